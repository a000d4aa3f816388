"""Red team: hostile scripts sent through the harness as a user would send them, each shown
contained, with what contains it. "with /proc" is this host's sandbox, "without /proc" a pod's
(no fresh /proc can be mounted there), both through the `run_either` fixture; "pod path" is a
pod's whole situation: unprivileged, no /proc, no cgroup of its own, rlimits only. No probe
opens a socket.

attack
    -> what stops it
    -> test (in another file: an existing test that already covers it)

ptrace of the reporter (pid 1) from the script, pidfd_getfd of its fds, /proc/1/fd/N for writing
    -> seccomp filter (confine.py); the reporter is non-dumpable
    -> test_hostile.py: test_a_script_cannot_ptrace_the_sandboxs_pid_1_or_take_its_fds
ptrace of a process of the script's own (attach, seize, traceme)
    -> seccomp filter: EPERM whatever the target
    -> test_ptrace_of_any_process_is_refused_by_the_seccomp_filter
/proc/1/root, cwd, exe, environ, maps, mem, ns/mnt, fd/N (read, readlink)
    -> reporter non-dumpable (confine.install), no CAP_SYS_PTRACE: EACCES; a pod: no /proc, ENOENT
    -> test_the_reporters_proc_files_are_refused
/proc/self/mem writes
    -> reach the script's own memory only; /proc/1/mem is refused as above
    -> test_proc_mem_writes_reach_only_the_scripts_own_memory
the harness's environment (/proc/1/environ, os.environ)
    -> runner.py starts the sandbox with env={}, bwrap --clearenv; /proc/1/environ as above
    -> test_the_script_sees_only_the_sandboxs_environment
mount, umount2, unshare, setns, pivot_root, chroot, keyctl, add_key, bpf, perf_event_open,
userfaultfd, io_uring_setup, with arguments that work unconfined
    -> seccomp filter: EPERM; behind it no capabilities, a user namespace
    -> test_privileged_and_attack_surface_calls_are_refused_with_working_arguments, its control
       test_the_probe_calls_do_work_where_nothing_confines_them; every denied number, namespace
       clone flags and clone3: test_confinement.py: test_a_script_cannot_call_what_the_seccomp_filter_denies
kill(1, each signal 1..64: SIGKILL, SIGSTOP, SIGTERM...), pidfd_send_signal(1, SIGKILL);
signals or ptrace to the outer harness
    -> pid namespace (bubblewrap): its init gets only the signals it handles, and the reporter
       ignores SIGTERM, SIGINT... (confine.REPORTER_IGNORES); no pid outside the sandbox names anything
    -> test_signals_to_the_reporter_and_to_every_process_leave_the_run_intact
kill(-1, SIGSTOP / SIGTERM / SIGKILL)
    -> pid namespace: reaches the script's own processes only, never pid 1
    -> test_kill_minus_one_reaches_only_the_scripts_own_processes
filling /tmp or /dev/shm with files under the size limit
    -> the run's memory cgroup, charged with tmpfs pages: memory_limit
    -> test_filling_tmp_or_dev_shm_is_a_memory_limit_where_the_run_has_a_cgroup
the same on the pod path
    -> each tmpfs sized to the run's memory (bwrap --size, sandbox.sized_tmpfs): ENOSPC
    -> test_filling_tmp_or_dev_shm_on_the_pods_path_stops_at_the_memory_limit,
       test_every_tmpfs_of_the_bubblewrap_sandbox_is_sized_and_the_scripts_argv_left_alone
one file past the size limit
    -> RLIMIT_FSIZE: resource_limit
    -> test_hostile.py: test_a_file_past_the_size_limit_is_a_resource_limit
huge argv or environment for a subprocess, with RLIMIT_STACK raised
    -> the kernel's execve bounds (128 KiB a string, 6 MiB in all): E2BIG
    -> test_a_huge_argv_or_environment_is_refused_by_execve
printing after main returns (a thread, atexit, a setsid double-forked grandchild), forged envelopes
    -> stdout is a pipe read into the envelope's stdout field; runner.py prints the one envelope
       after the sandbox has ended; the grandchild dies with pid 1
    -> test_output_after_main_returns_stays_inside_the_envelopes_stdout[host, pod]
os.closerange(3, 1024)
    -> the reporter's verdict (inner.py): no message is a run that "ended without a result"
    -> test_closing_every_inherited_fd_ends_without_a_result
dup2 of the result channel over fd 1 and 2
    -> outcome.accept: exactly one well-formed message, else tampering
    -> test_pointing_stdout_and_stderr_at_the_result_channel_is_tampering
dup2 of stdout over every fd, the result channel among them
    -> the same
    -> test_hostile.py: test_a_script_cannot_forge_a_harness_error_by_rebinding_the_report_channel
closing fds 0, 1 and 2
    -> the report travels on a pipe of the reporter's
    -> test_closing_the_standard_streams_does_not_stop_the_report
reading the request: its fd, any fd, /proc/1/fd
    -> inner.py reads and closes it before the fork; the script holds stdin, stdout, stderr and a
       write-only channel
    -> test_no_fd_of_the_script_reads_the_request
reading the request file, writing the termination log (the test's paths and a pod's)
    -> not bound into the sandbox: a fresh /tmp, a minimal read-only /dev, no /var, no /opt
    -> test_the_request_file_and_the_termination_log_are_out_of_reach
grandchildren outliving main (setsid, double fork) where the run has a cgroup
    -> the pid namespace ends with pid 1; the run's cgroup is destroyed
    -> test_harness.py: test_a_daemonised_grandchild_does_not_outlive_the_run,
       test_hostile.py: test_a_grandchild_that_outlives_main_dies_with_the_run
the same on the pod path (no cgroup to destroy)
    -> the pid namespace alone
    -> test_output_after_main_returns_stays_inside_the_envelopes_stdout[pod]
"""
import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import RUNNER, run_runner
import confine
import sandbox
from test_hostile import assert_tampered

POD_CODE = (f"import sys\nsys.path.insert(0, {os.path.dirname(os.path.abspath(RUNNER))!r})\nimport runner\n"
            "runner._PROC_OK = False\nrunner.main()\n")


def run_in_pod_path(request):
    """As in a runner pod: unprivileged (uid 65532 when this is root, else this user), no fresh
    /proc, no cgroup of its own. Returns (envelope, seconds, stdout)."""
    become = ["setpriv", "--reuid", "65532", "--regid", "65532", "--clear-groups", "--inh-caps=-all"]
    argv = [*become, sandbox.SANDBOX_PYTHON] if os.geteuid() == 0 else [sys.executable]
    started = time.monotonic()
    proc = subprocess.run([*argv, "-c", POD_CODE], input=json.dumps(request), capture_output=True, text=True,
                          timeout=60, check=False, cwd="/tmp")
    assert proc.returncode == 0, proc.stderr[-2000:]
    envelope = json.loads(proc.stdout.splitlines()[-1])
    # What the test is about: the path with no memory cgroup, which rlimits alone confine.
    assert envelope["sandbox"] == {"backend": "bubblewrap", "memory": "rlimit"}, envelope
    return envelope, time.monotonic() - started, proc.stdout


def succeeded(envelope):
    assert envelope["success"] and envelope["error"] is None, json.dumps(envelope)[:1500]
    return envelope["result"]


def still_running(marker):
    return subprocess.run(["pgrep", "-f", marker], capture_output=True, check=False).returncode == 0


# ptrace ----------------------------------------------------------------------------------------

PTRACE_OTHERS = """import ctypes, errno, os, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
def ptrace(request, pid):
    r = libc.ptrace(ctypes.c_long(request), ctypes.c_long(pid), None, None)
    return 'allowed' if r >= 0 else errno.errorcode[ctypes.get_errno()]
def main():
    sibling = os.fork()
    if sibling == 0:
        time.sleep(30)
        os._exit(0)
    tried = {'attach a process of its own': ptrace(16, sibling), 'seize a process of its own': ptrace(0x4206, sibling)}
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(w, ptrace(0, 0).encode())
        os._exit(0)
    os.waitpid(child, 0)
    tried['traceme'] = os.read(r, 64).decode()
    os.kill(sibling, 9)
    os.waitpid(sibling, 0)
    return tried
"""


def test_ptrace_of_any_process_is_refused_by_the_seccomp_filter(run_either):
    """seccomp filter (confine.py) denies ptrace whatever the target: even a process of the
    script's own, same uid and dumpable, which the kernel alone would let it trace."""
    tried = succeeded(run_either({"script": PTRACE_OTHERS, "timeoutSeconds": 5}))
    assert tried == {"attach a process of its own": "EPERM", "seize a process of its own": "EPERM", "traceme": "EPERM"}


# /proc -------------------------------------------------------------------------------------------

PROC_OF_PID_1 = """import errno, os
def tried(f):
    try:
        f()
        return 'allowed'
    except OSError as exc:
        return errno.errorcode[exc.errno]
def main():
    return {
        'root': tried(lambda: os.listdir('/proc/1/root/')),
        'root link': tried(lambda: os.readlink('/proc/1/root')),
        'cwd': tried(lambda: os.listdir('/proc/1/cwd/')),
        'exe': tried(lambda: open('/proc/1/exe', 'rb').close()),
        'environ': tried(lambda: open('/proc/1/environ', 'rb').read()),
        'maps': tried(lambda: open('/proc/1/maps').read()),
        'mem read': tried(lambda: open('/proc/1/mem', 'rb').close()),
        'mem write': tried(lambda: open('/proc/1/mem', 'r+b').close()),
        'ns/mnt': tried(lambda: open('/proc/1/ns/mnt').close()),
        # The reporter's standard streams are always open: refused, not absent.
        'fd 0-2 read': sorted({tried(lambda: os.close(os.open(f'/proc/1/fd/{fd}', os.O_RDONLY))) for fd in range(3)}),
        'fd 0-2 link': sorted({tried(lambda: os.readlink(f'/proc/1/fd/{fd}')) for fd in range(3)}),
        'fds opened': [fd for fd in range(256)
                       if tried(lambda: os.close(os.open(f'/proc/1/fd/{fd}', os.O_RDONLY))) == 'allowed'],
    }
"""


def test_the_reporters_proc_files_are_refused(run_either):
    """The reporter (pid 1, inner.py) is non-dumpable (confine.install) and the script has no
    CAP_SYS_PTRACE, so every ptrace-guarded file of /proc/1 is EACCES; in a pod there is no /proc
    (ENOENT). /proc/1/root is not even a way out: the pid namespace shows no process outside."""
    expected = "EACCES" if run_either.with_proc else "ENOENT"
    tried = succeeded(run_either({"script": PROC_OF_PID_1, "timeoutSeconds": 5}))
    assert tried == {"root": expected, "root link": expected, "cwd": expected, "exe": expected, "environ": expected,
                     "maps": expected, "mem read": expected, "mem write": expected, "ns/mnt": expected,
                     "fd 0-2 read": [expected], "fd 0-2 link": [expected], "fds opened": []}


PROC_MEM = """import ctypes, errno, os
def main():
    target = bytearray(b'original')
    address = ctypes.addressof((ctypes.c_char * len(target)).from_buffer(target))
    try:
        with open('/proc/self/mem', 'r+b', buffering=0) as mem:
            mem.seek(address)
            mem.write(b'patched!')
        own = target.decode()
    except OSError as exc:
        own = errno.errorcode[exc.errno]
    try:
        open('/proc/1/mem', 'r+b', buffering=0).close()
        reporter = 'opened'
    except OSError as exc:
        reporter = errno.errorcode[exc.errno]
    return {'own memory': own, "the reporter's memory": reporter}
"""


def test_proc_mem_writes_reach_only_the_scripts_own_memory(run_either):
    """Writing through /proc/self/mem works (the write is real: the script patches its own
    bytes), but only on its own address space; the reporter's is non-dumpable (EACCES), and in a
    pod there is no /proc at all (ENOENT)."""
    expected = {"own memory": "patched!", "the reporter's memory": "EACCES"} if run_either.with_proc else \
        {"own memory": "ENOENT", "the reporter's memory": "ENOENT"}
    assert succeeded(run_either({"script": PROC_MEM, "timeoutSeconds": 5})) == expected


ENVIRONMENT = "import os\ndef main():\n    return dict(os.environ)\n"


def test_the_script_sees_only_the_sandboxs_environment(run_either, monkeypatch):
    """runner.py starts the sandbox with env={} and bwrap --clearenv: nothing of the harness's
    environment (in a pod: KUBERNETES_*, whatever the pod spec sets) reaches the script."""
    monkeypatch.setenv("SCRIPTRUN_REDTEAM_SECRET", "not-for-the-script")  # inherited by runner.py in both variants
    seen = succeeded(run_either({"script": ENVIRONMENT}))
    assert {k: v for k, v in seen.items() if k != "PWD"} == sandbox.SANDBOX_ENV
    assert seen.get("PWD", "/tmp") == "/tmp"


# syscalls ---------------------------------------------------------------------------------------

COLUMN = confine.ARCHES.get(os.uname().machine, (0,))[0]
NUMBERS = {name: confine.DENIED[name][COLUMN] for name in (
    "mount", "umount2", "unshare", "setns", "pivot_root", "chroot", "keyctl", "add_key", "bpf", "perf_event_open",
    "userfaultfd", "io_uring_setup")}
NUMBERS["pidfd_open"] = 434  # the same on every architecture
CALLS = r"""import ctypes, errno, os, struct
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def buffer(data):
    return ctypes.create_string_buffer(data, len(data))
def main(nr, names):
    def call(name, *args):
        r = libc.syscall(ctypes.c_long(nr[name]), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
        return 'allowed' if r >= 0 else errno.errorcode.get(ctypes.get_errno(), '?')
    def in_a_fork(name, *args):  # unshare changes its caller: tried in a process thrown away after
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.write(w, call(name, *args).encode())
            os._exit(0)
        os.close(w)
        os.waitpid(pid, 0)
        return os.read(r, 64).decode()
    def own_pidfd():
        return libc.syscall(ctypes.c_long(nr['pidfd_open']), ctypes.c_long(os.getpid()), ctypes.c_long(0))
    insns = buffer(bytes([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]))  # r0 = 0; exit
    license = buffer(b'GPL\0')
    prog = buffer(struct.pack('IIQQ', 1, 2, ctypes.addressof(insns), ctypes.addressof(license)).ljust(128, b'\0'))
    # A task-clock counter of this process, user space only: what perf_event_paranoid 2 allows.
    perf = buffer(struct.pack('IIQQQQQ', 1, 128, 1, 0, 0, 0, 1 | 0x20 | 0x40).ljust(128, b'\0'))
    probes = {
        'mount': lambda: call('mount', b'none', b'/tmp/m', b'tmpfs', 0, None),
        'umount2': lambda: call('umount2', b'/tmp', 2),
        'unshare user': lambda: in_a_fork('unshare', 0x10000000),
        'unshare mount': lambda: in_a_fork('unshare', 0x00020000),
        'setns': lambda: call('setns', own_pidfd(), 0x04000000),  # into its own UTS namespace, by pidfd
        'pivot_root': lambda: call('pivot_root', b'/tmp', b'/tmp/m'),
        'chroot': lambda: call('chroot', b'/tmp'),
        'keyctl': lambda: call('keyctl', 1, None),  # KEYCTL_JOIN_SESSION_KEYRING, a new anonymous one
        'add_key': lambda: call('add_key', b'user', b'redteam', b'data', 4, -2),  # to the process keyring
        'bpf': lambda: call('bpf', 5, prog, 128),  # BPF_PROG_LOAD of a socket filter
        'perf_event_open': lambda: call('perf_event_open', perf, 0, -1, -1, 0),
        'userfaultfd': lambda: call('userfaultfd', 0o2000000 | 1),  # O_CLOEXEC | UFFD_USER_MODE_ONLY
        'io_uring_setup': lambda: call('io_uring_setup', 4, buffer(bytes(120))),
    }
    if 'mount' in names:
        os.makedirs('/tmp/m', exist_ok=True)
    return {name: probes[name]() for name in names}
"""
ALL_CALLS = ["mount", "umount2", "unshare user", "unshare mount", "setns", "pivot_root", "chroot", "keyctl", "add_key",
             "bpf", "perf_event_open", "userfaultfd", "io_uring_setup"]
# The calls that change nothing outside a throwaway process, safe to make unconfined on a host.
HARMLESS = ["unshare user", "keyctl", "add_key", "perf_event_open", "userfaultfd", "io_uring_setup"]


@pytest.mark.skipif(os.uname().machine not in confine.ARCHES, reason="no syscall table for this architecture")
def test_privileged_and_attack_surface_calls_are_refused_with_working_arguments(run_either):
    """seccomp filter (confine.DENIED): EPERM before the kernel looks at the arguments, which are
    real ones here (a tmpfs to mount, a BPF program to load, a ring to set up). Behind it: no
    capabilities, and a user namespace whose root owns nothing outside."""
    request = {"script": CALLS, "kwargs": {"nr": NUMBERS, "names": ALL_CALLS}, "timeoutSeconds": 5}
    assert succeeded(run_either(request)) == {name: "EPERM" for name in ALL_CALLS}


@pytest.mark.skipif(os.uname().machine not in confine.ARCHES, reason="no syscall table for this architecture")
def test_the_probe_calls_do_work_where_nothing_confines_them():
    """The control for the test above: the same code, unconfined, is not refused, so the EPERMs
    there are the sandbox's doing. Only calls that touch nothing beyond the probe's own process."""
    code = CALLS + "\nimport json, sys\nprint(json.dumps(main(**json.loads(sys.argv[1]))))\n"
    proc = subprocess.run([sys.executable, "-c", code, json.dumps({"nr": NUMBERS, "names": HARMLESS})],
                          capture_output=True, text=True, timeout=30, check=True)
    unconfined = json.loads(proc.stdout)
    # Which of them a host allows varies (sysctls, kernel config); keyrings are there for everyone.
    assert unconfined["keyctl"] == "allowed" and unconfined["add_key"] == "allowed", unconfined


# signals ----------------------------------------------------------------------------------------

SIGNALS = """import ctypes, errno, os, signal, time
def main(outside):
    sent = set()
    for signum in range(1, signal.SIGRTMAX + 1):
        if signum in (32, 33):  # glibc's own, not a script's to send
            continue
        try:
            os.kill(1, signum)
            sent.add('accepted')
        except OSError as exc:
            sent.add(errno.errorcode[exc.errno])
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    pidfd = libc.syscall(ctypes.c_long(434), ctypes.c_long(1), ctypes.c_long(0))
    by_pidfd = libc.syscall(ctypes.c_long(424), ctypes.c_long(pidfd), ctypes.c_long(9), None, ctypes.c_long(0))
    time.sleep(0.3)  # a reporter that took one of them would be dead or stopped by now
    try:
        os.kill(outside, 0)
        harness = 'found'
    except OSError as exc:
        harness = errno.errorcode[exc.errno]
    nameable = []
    for pid in range(1, 1 << 16):
        try:
            os.kill(pid, 0)
            nameable.append(pid)
        except OSError:
            pass
    return {'to pid 1': sorted(sent), 'pidfd_send_signal SIGKILL': by_pidfd, 'the harness': harness,
            'nameable': [p if p == 1 else 'itself' if p == os.getpid() else p for p in nameable]}
"""


def test_signals_to_the_reporter_and_to_every_process_leave_the_run_intact(run_either):
    """The kernel accepts every signal to pid 1 but delivers to a pid namespace's init only those
    it handles; the reporter ignores SIGTERM, SIGINT and the rest (confine.REPORTER_IGNORES) and
    handles only SIGCHLD, harmlessly. SIGKILL and SIGSTOP from inside are dropped. The outer harness
    is outside the pid namespace: its pid names nothing, and only pid 1 and the script can be named."""
    request = {"script": SIGNALS, "args": [os.getpid()], "timeoutSeconds": 5}
    assert succeeded(run_either(request)) == {"to pid 1": ["accepted"], "pidfd_send_signal SIGKILL": 0,
                                              "the harness": "ESRCH", "nameable": [1, "itself"]}


KILL_ALL = """import os, signal, time
def main():
    # Where kill(-1) could reach beyond the run, do not send it: the parent must be the sandbox's pid 1.
    if os.getpid() == 1 or os.getppid() != 1:
        return 'not in a pid namespace of its own'
    ready, told = os.pipe()
    victim = os.fork()
    if victim == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # so that it is the SIGKILL that ends it, not a race
        os.write(told, b'ready')
        time.sleep(30)
        os._exit(0)
    os.read(ready, 5)
    for signum in (signal.SIGSTOP, signal.SIGTERM, signal.SIGKILL):
        os.kill(-1, signum)
    time.sleep(0.3)
    _, status = os.waitpid(victim, 0)
    return {'victim': signal.Signals(os.WTERMSIG(status)).name if os.WIFSIGNALED(status) else status}
"""


def test_kill_minus_one_reaches_only_the_scripts_own_processes(run_either):
    """pid namespace (bubblewrap --unshare-pid): kill(-1) reaches every process the script may
    signal except itself and init, which inside the namespace is its own forks only. The reporter
    goes on to report; nothing outside (the harness, this test) is touched."""
    assert succeeded(run_either({"script": KILL_ALL, "timeoutSeconds": 5})) == {"victim": "SIGKILL"}


# filling /tmp and /dev/shm ---------------------------------------------------------------------

FILL = """import errno
def main(where, most):
    chunk = b'x' * (1 << 20)
    for n in range(most):
        try:
            with open(f'{where}/fill{n}', 'wb') as f:
                f.write(chunk)
        except OSError as exc:
            return {'wrote MiB': n, 'refused': errno.errorcode[exc.errno]}
    return {'wrote MiB': most, 'refused': None}
"""
FILL_MEMORY = 64  # MiB: the run's memory limit
FILL_MOST = 4 * FILL_MEMORY  # where nothing stopped it, the script stops itself, bounding the harm to the host


def fill_request(where):
    # One MiB files: far under RLIMIT_FSIZE, which stops only one big file.
    return {"script": FILL, "args": [where, FILL_MOST], "resources": {"memory": f"{FILL_MEMORY}Mi"},
            "timeoutSeconds": 10}


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root harness gives a run a cgroup; see the pod's path below")
@pytest.mark.parametrize("where", ["/tmp", "/dev/shm"])
def test_filling_tmp_or_dev_shm_is_a_memory_limit_where_the_run_has_a_cgroup(run_either, where):
    """The memory cgroup of the run (cgroups.RunCgroup) charges tmpfs pages to it: the kernel's
    OOM killer ends the run at its memory limit, the OOM counter makes that a memory_limit."""
    envelope = run_either(fill_request(where))
    assert envelope["sandbox"] == {"backend": "bubblewrap", "memory": "cgroup"}, envelope
    assert envelope["error"]["type"] == "memory_limit", json.dumps(envelope)[:1000]
    assert envelope["exitCode"] == 137 and str(FILL_MEMORY << 20) in envelope["error"]["message"]


@pytest.mark.parametrize("where", ["/tmp", "/dev/shm"])
def test_filling_tmp_or_dev_shm_on_the_pods_path_stops_at_the_memory_limit(where):
    """Without a cgroup of its own, tmpfs pages are no process's memory, so RLIMIT_AS never sees
    them and a tmpfs left at the kernel's default size (half the node's RAM) would take the node's
    memory. Each tmpfs of the sandbox is sized to the run's memory limit (bwrap --size, as nsjail's
    --tmpfsmount is sized): the script is refused with ENOSPC there."""
    envelope, seconds, _ = run_in_pod_path(fill_request(where))
    filled = succeeded(envelope)
    assert filled == {"wrote MiB": FILL_MEMORY, "refused": "ENOSPC"}
    assert seconds < 10



def test_every_tmpfs_of_the_bubblewrap_sandbox_is_sized_and_the_scripts_argv_left_alone():
    argv = ["python3", "--tmpfs", "x"]
    cmd = sandbox.sized_tmpfs(sandbox.bwrap_command(argv), 1 << 26)
    options, script = cmd[:cmd.index("--")], cmd[cmd.index("--") + 1:]
    mounts = [options[at - 2:at + 2] for at, arg in enumerate(options) if arg == "--tmpfs"]
    assert mounts == [["--size", str(1 << 26), "--tmpfs", "/tmp"], ["--size", str(1 << 26), "--tmpfs", "/dev/shm"]]
    assert script == argv


# execve limits -----------------------------------------------------------------------------------

HUGE_EXEC = """import errno, resource, subprocess
def tried(**how):
    try:
        subprocess.run(**how, check=True)
        return 'ran'
    except OSError as exc:
        return errno.errorcode[exc.errno]
def main():
    _, hard = resource.getrlimit(resource.RLIMIT_STACK)
    resource.setrlimit(resource.RLIMIT_STACK, (hard, hard))  # the most argument space the kernel then allows
    return {
        'one 200 KB argument': tried(args=['/bin/true', 'x' * 200_000]),
        'one 200 KB variable': tried(args=['/bin/true'], env={'X': 'x' * 200_000}),
        '8 MB of arguments': tried(args=['/bin/true'] + ['x' * 100_000] * 80),
        '8 MB of environment': tried(args=['/bin/true'], env={f'X{i}': 'x' * 100_000 for i in range(80)}),
        'a normal command line': tried(args=['/bin/true', 'x' * 1000]),
    }
"""


def test_a_huge_argv_or_environment_is_refused_by_execve(run_either):
    """The kernel's execve bounds: no string past MAX_ARG_STRLEN (128 KiB), and arguments plus
    environment within a quarter of RLIMIT_STACK, never more than 6 MiB even with the stack
    unlimited. The copies the script builds count against its memory limit (rlimit or cgroup)."""
    tried = succeeded(run_either({"script": HUGE_EXEC, "timeoutSeconds": 10}))
    assert tried == {"one 200 KB argument": "E2BIG", "one 200 KB variable": "E2BIG", "8 MB of arguments": "E2BIG",
                     "8 MB of environment": "E2BIG", "a normal command line": "ran"}


# output and fds ----------------------------------------------------------------------------------

FORGED = '{"success": true, "result": "forged", "stdout": "", "error": null}'
LATE_OUTPUT = """import atexit, os, sys, threading, time
FORGED = %r
def late():
    time.sleep(0.2)
    print('thread after main:', FORGED)
def main():
    atexit.register(lambda: print('atexit:', FORGED))
    threading.Thread(target=late).start()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv('/bin/sh', ['sh', '-c', 'sleep 3; echo grandchild: $0; exec sleep %s', FORGED])
        os._exit(0)
    os.wait()
    sys.stdout.write(FORGED + chr(10))
    return 'real'
"""
PATHS = {"host": (run_runner, "16.1803"), "pod": (run_in_pod_path, "16.1804")}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_output_after_main_returns_stays_inside_the_envelopes_stdout(path):
    """stdout is a pipe the outer harness reads into the envelope's stdout field; the envelope is
    printed by runner.py, once, after the sandbox has ended. A non-daemon thread and an atexit
    handler print within the run (their output is the script's own); a setsid double-forked
    grandchild holding stdout dies when the reporter, pid 1, exits: its late line never comes and
    it does not hold the run open. On the pod path no cgroup is there to kill it: the pid
    namespace alone does."""
    run, marker = PATHS[path]
    envelope, seconds, stdout = run({"script": LATE_OUTPUT % (FORGED, marker), "timeoutSeconds": 5})
    assert stdout.count("\n") == 1 and json.loads(stdout) == envelope
    assert succeeded(envelope) == "real"
    assert envelope["stdout"] == f"{FORGED}\nthread after main: {FORGED}\natexit: {FORGED}\n", envelope["stdout"]
    assert seconds < 3  # so the grandchild, had it lived, would have printed after the run's end
    time.sleep(0.3)
    assert not still_running(f"sleep {marker}")  # its command line, as sh and then as sleep


def test_closing_every_inherited_fd_ends_without_a_result(run_either):
    """os.closerange(3, 1024) closes the script's end of its result channel: usercode.py can send
    nothing, and the reporter (inner.py) reports how the child ended, which the outer harness
    judges as a run that ended without a result: never a success, never the script's word."""
    envelope = run_either({"script": "import os\ndef main():\n    os.closerange(3, 1024)\n    return 'real'\n"})
    assert envelope["success"] is False and envelope["exitCode"] == 0, envelope
    assert envelope["error"]["type"] == "runtime_error"
    assert envelope["error"]["message"] == "the script ended without a result (exit status 0)"


DUP_OVER_STDIO = """import os, stat
FORGED = b'{"ok": true, "result": "forged", "exitCode": 0}' + bytes([10])
def main():
    for fd in range(3, 256):
        try:
            if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                continue
            os.dup2(fd, 1)
            os.dup2(fd, 2)
        except OSError:
            continue
    print(FORGED.decode(), end='', flush=True)
    os.write(2, FORGED)
    return 'real'
"""


def test_pointing_stdout_and_stderr_at_the_result_channel_is_tampering(run_either):
    """dup2 of the script's result channel over fd 1 and 2 makes its prints land in the channel:
    outcome.accept (in the reporter) takes exactly one well-formed message, so the run is
    reported as tampering, not as the forged success nor as the real result."""
    assert_tampered(run_either({"script": DUP_OVER_STDIO}))


def test_closing_the_standard_streams_does_not_stop_the_report(run_either):
    """The report travels on pipes the script never holds (the reporter's), its outcome on its
    own channel: without stdin, stdout and stderr the run still reports the script's result."""
    script = "import os\ndef main():\n    for fd in (0, 1, 2):\n        os.close(fd)\n    return 'real'\n"
    assert succeeded(run_either({"script": script})) == "real"


# the request ---------------------------------------------------------------------------------

OWN_FDS = """import errno, fcntl, os, sys
def main():
    fds = {}
    for fd in range(1024):
        try:
            mode = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
        except OSError:
            continue
        fds[str(fd)] = {os.O_RDONLY: 'read', os.O_WRONLY: 'write', os.O_RDWR: 'read-write'}[mode]
    try:
        os.read(int(sys.argv[1]), 1)  # inner.py's argv: the fd it read its request from
        request_fd = 'read'
    except OSError as exc:
        request_fd = errno.errorcode[exc.errno]
    readable = [int(fd) for fd, mode in fds.items() if 'read' in mode]
    return {'readable': readable, 'fds': len(fds), 'the request fd': request_fd,
            'stdin': os.read(0, 1 << 16).decode() if readable == [0] else None}
"""


def test_no_fd_of_the_script_reads_the_request(run_either):
    """inner.py reads its job from the request fd and closes it before it forks the script; the
    script holds stdin (the request's stdin only), stdout, stderr and its write-only channel.
    (What the request holds is the script's own, and the child, a fork of the reporter, has it in
    memory anyway: what must be out of reach is every fd that leads back to the harness.)"""
    seen = succeeded(run_either({"script": OWN_FDS, "stdin": "only the stdin\n"}))
    assert seen == {"readable": [0], "fds": 4, "the request fd": "EBADF", "stdin": "only the stdin\n"}


REACH = """import errno, os
def main(paths):
    tried = {}
    for path in paths:
        for how in ('r', 'a'):
            try:
                open(path, how).close()
                tried[f'{how} {path}'] = 'opened'
            except OSError as exc:
                tried[f'{how} {path}'] = errno.errorcode[exc.errno]
    return {'tried': tried, 'tmp': os.listdir('/tmp')}
"""
# Where a runner pod keeps them (operator/podSpec.ts), and the harness itself.
POD_PATHS = ["/var/run/scriptrun/request.json", "/dev/termination-log", "/opt/scriptrun/runner.py"]


def test_the_request_file_and_the_termination_log_are_out_of_reach(tmp_path):
    """Not bound into the sandbox: its /tmp is a fresh tmpfs, its /dev a minimal read-only one, and
    there is no /var or /opt. The termination log the outer harness writes is the real envelope."""
    request_file, log = tmp_path / "request.json", tmp_path / "termination-log"
    paths = [str(request_file), str(log), *POD_PATHS]
    request_file.write_text(json.dumps({"script": REACH, "args": [paths]}))
    envelope, _, _ = run_runner(None, "--request", str(request_file), "--termination-log", str(log), raw="")
    tried = {f"{how} {path}": "ENOENT" for path in paths for how in "ra"}
    tried["a /dev/termination-log"] = "EROFS"  # /dev is there, read-only, without the file: creating it is refused
    assert succeeded(envelope) == {"tried": tried, "tmp": []}
    assert json.loads(log.read_text()) == envelope

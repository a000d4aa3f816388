"""What confines a script: the seccomp filter, no capabilities, a read-only
root, and a preflight that survives hostile source; in the host's sandbox and
on the pod's path (unprivileged, no fresh /proc, no cgroup of its own)."""
import json
import os
import subprocess
import sys

import pytest

from conftest import RUNNER, become_pod_user, run_runner
import confine
import sandbox
from test_hostile import REBIND, assert_tampered

# What the README's security model says the filter denies, name: (x86_64, aarch64), from the kernel's
# tables (arch/x86/entry/syscalls/syscall_64.tbl; include/uapi/asm-generic/unistd.h, which arm64 uses).
# Written out here, not read from confine.DENIED: a call dropped from the filter must stay probed.
MUST_DENY = {
    "ptrace": (101, 117), "process_vm_readv": (310, 270), "process_vm_writev": (311, 271),
    "pidfd_getfd": (438, 438), "kcmp": (312, 272), "bpf": (321, 280), "perf_event_open": (298, 241),
    "keyctl": (250, 219), "add_key": (248, 217), "request_key": (249, 218),
    "io_uring_setup": (425, 425), "io_uring_enter": (426, 426), "io_uring_register": (427, 427),
    "userfaultfd": (323, 282),
    "mount": (165, 40), "open_tree": (428, 428), "move_mount": (429, 429), "fsopen": (430, 430),
    "fsconfig": (431, 431), "fsmount": (432, 432), "fspick": (433, 433), "mount_setattr": (442, 442),
    "umount2": (166, 39), "pivot_root": (155, 41), "chroot": (161, 51), "unshare": (272, 97), "setns": (308, 268),
    "open_by_handle_at": (304, 265),
    "init_module": (175, 105), "finit_module": (313, 273), "delete_module": (176, 106),
    "kexec_load": (246, 104), "kexec_file_load": (320, 294), "reboot": (169, 142),
    "swapon": (167, 224), "swapoff": (168, 225), "acct": (163, 89), "syslog": (103, 116),
    "quotactl": (179, 60), "quotactl_fd": (443, 443), "personality": (135, 92),
}
CLONE, CLONE3, PRLIMIT64 = (56, 220), (435, 435), (302, 261)
COLUMNS = {"x86_64": 0, "aarch64": 1}
COLUMN = COLUMNS.get(os.uname().machine, 0)
PROBES = {name: numbers[COLUMN] for name, numbers in MUST_DENY.items()}
NAMESPACES = {"NEWUSER": 0x10000000, "NEWNS": 0x20000, "NEWPID": 0x20000000, "NEWNET": 0x40000000,
              "NEWIPC": 0x08000000, "NEWUTS": 0x04000000, "NEWCGROUP": 0x02000000}
SYSCALLS = f"""import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
ARGS = {{'ptrace': [12, os.getpid()], 'personality': [0xffffffff], 'kcmp': [os.getpid(), os.getpid(), 0],
        'process_vm_readv': [os.getpid()], 'process_vm_writev': [os.getpid()], 'keyctl': [0, -2]}}
def call(nr, *args):
    r = libc.syscall(*[ctypes.c_long(a) for a in (nr, *args, 0, 0, 0, 0, 0, 0)[:7]])
    if r == 0 and nr == {CLONE[COLUMN]}:
        os._exit(0)  # a clone that got through: this is its child
    if r > 0 and nr == {CLONE[COLUMN]}:
        os.waitpid(r, 0)
    return errno.errorcode.get(ctypes.get_errno(), '?') if r < 0 else 'allowed'
def main():
    denied = {{name: call(nr, *ARGS.get(name, [])) for name, nr in {PROBES!r}.items()}}
    denied.update({{'clone ' + name: call({CLONE[COLUMN]}, flag | 17) for name, flag in {NAMESPACES!r}.items()}})
    denied['clone3'] = call({CLONE3[COLUMN]}, 0, 0)
    # prlimit64 of another process (pid 1 is the reporter) is refused; of itself (pid 0) allowed.
    denied['prlimit64 of pid 1'] = call({PRLIMIT64[COLUMN]}, 1, 9, 0, 0)
    denied['prlimit64 of itself'] = call({PRLIMIT64[COLUMN]}, 0, 9, 0, 0)
    if os.uname().machine == 'x86_64':
        denied['x32 getpid'] = call(0x40000000 | 39)
    return denied
"""
STILL_WORKS = """import os, subprocess, threading, multiprocessing
import numpy as np, pandas as pd
def main():
    seen = []
    thread = threading.Thread(target=seen.append, args=['thread'])
    thread.start(); thread.join()
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    seen.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    seen.append(subprocess.run(['echo', 'sub'], capture_output=True, text=True).stdout.strip())
    with multiprocessing.Pool(2) as pool:
        seen.append(pool.map(abs, [-1, -2]))
    seen.append(int(pd.DataFrame({'a': np.arange(4)})['a'].sum()))
    return seen
"""
WRITES = """import os
def main():
    status = open('/proc/self/status').read() if os.path.exists('/proc/self/status') else 'CapEff: no-proc'
    wrote = []
    for path in ['/x', '/etc/hosts', '/etc/passwd', '/run/x', '/dev/x', '/usr/x', '/run/scriptrun-inner/x']:
        try:
            open(path, 'w').close()
            wrote.append(path)
        except OSError:
            pass
    for path in ['/newdir', '/etc/newdir', '/run/newdir', '/dev/newdir']:
        try:
            os.mkdir(path)
            wrote.append(path)
        except OSError:
            pass
    for path in ['/tmp/x', '/dev/shm/x', '/dev/null']:
        open(path, 'w').write('still writable')
    return {'cap': [l.split()[1] for l in status.splitlines() if l.startswith('CapEff')], 'wrote': wrote}
"""


def test_the_filter_s_deny_list_holds_every_call_the_security_model_names_under_its_numbers():
    assert {name: confine.DENIED.get(name) for name in MUST_DENY} == MUST_DENY


@pytest.mark.skipif(os.uname().machine not in COLUMNS, reason="no syscall table for this architecture")
def test_a_script_cannot_call_what_the_seccomp_filter_denies(run_either):
    envelope = run_either({"script": SYSCALLS, "timeoutSeconds": 5})
    assert envelope["success"], envelope
    expected = {**{name: "EPERM" for name in MUST_DENY}, **{"clone " + name: "EPERM" for name in NAMESPACES},
                "clone3": "ENOSYS", "prlimit64 of pid 1": "EPERM", "prlimit64 of itself": "allowed"}
    if os.uname().machine == "x86_64":
        expected["x32 getpid"] = "EPERM"
    assert envelope["result"] == expected


def test_the_script_runs_under_a_seccomp_filter():
    # Many denied calls fail without capabilities anyway: this shows the filter itself is there.
    script = "def main():\n    return [l for l in open('/proc/self/status') if l.startswith('Seccomp:')]\n"
    envelope, _, _ = run_runner({"script": script})
    assert envelope["result"] == ["Seccomp:\t2\n"], envelope


def test_threads_fork_subprocess_multiprocessing_numpy_and_pandas_work_under_the_filter():
    envelope, _, _ = run_runner({"script": STILL_WORKS, "timeoutSeconds": 20})
    assert envelope["success"] and envelope["result"] == ["thread", 7, "sub", [1, 2], 6], envelope


def test_a_script_has_no_capabilities_and_cannot_write_outside_tmp(run_either):
    envelope = run_either({"script": WRITES})
    assert envelope["success"], envelope
    assert envelope["result"] == {"cap": ["0000000000000000" if run_either.with_proc else "no-proc"], "wrote": []}


def test_nsjail_keeps_a_read_only_root_a_pid_namespace_and_no_capabilities():
    limits = sandbox.limits_of({"timeoutSeconds": 5, "resources": {}, "limits": {}})
    cmd = sandbox.nsjail_command(limits, (7, 8))
    assert not {"--rw", "--keep_caps", "--disable_clone_newpid", "--disable_clone_newuser"} & set(cmd)
    assert cmd[cmd.index("--") + 1:][-3:] == [f"{sandbox.INNER_DIR}/inner.py", "7", "8"]


def test_an_unsupported_architecture_is_refused_not_run_unfiltered():
    with pytest.raises(confine.Unsupported, match="riscv64"):
        confine.program("riscv64")


DEEP = {
    "parentheses": "(" * 200000,
    "brackets": "[" * 100000 + "]" * 100000,
    "compile-recursion": "x = " + "1+" * 1000 + "1",
    "parser-recursion": "x = " + "1+" * 100000 + "1",
    "parser-memory": "x = " + "-" * 200000 + "1",
}


def deep_request(name):
    return json.dumps({"script": DEEP[name] + "\ndef main():\n    return 1\n"})


@pytest.mark.parametrize("name", sorted(DEEP))
def test_deeply_nested_source_is_a_syntax_error_in_the_one_shot_preflight(name):
    proc = subprocess.run([sys.executable, RUNNER, "--preflight"], input=deep_request(name), capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["error"]["type"] == "syntax_error"


def test_the_preflight_server_survives_deeply_nested_source_within_bounded_memory():
    server = subprocess.Popen([sys.executable, RUNNER, "--preflight-server"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        for name in sorted(DEEP):
            server.stdin.write(deep_request(name) + "\n")
            server.stdin.flush()
            answer = json.loads(server.stdout.readline())
            assert answer["error"]["type"] == "syntax_error", (name, answer)
        server.stdin.write('{"script": "def main():\\n    return 1\\n"}\n')
        server.stdin.flush()
        assert json.loads(server.stdout.readline()) == {"ok": True}
        with open(f"/proc/{server.pid}/limits") as f:
            limit = next(line.split()[3] for line in f if line.startswith("Max address space"))
        assert limit != "unlimited" and int(limit) <= 1 << 30
    finally:
        server.kill()
        server.wait()


def test_the_pods_path_unprivileged_without_proc_or_cgroup_keeps_the_guards():
    """As in a runner pod: uid 65532, no capabilities, no fresh /proc, no cgroup to make."""
    become_pod_user()
    code = (f"import sys\nsys.path.insert(0, {os.path.dirname(RUNNER)!r})\nimport runner\n"
            "runner._PROC_OK = False\nrunner.main()\n")

    def run(script):
        proc = subprocess.run(["setpriv", "--reuid", "65532", "--regid", "65532", "--clear-groups",
                               "--inh-caps=-all", "/usr/bin/python3", "-c", code], input=json.dumps({"script": script}),
                              capture_output=True, text=True, timeout=60, check=False, cwd="/tmp")
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(proc.stdout)

    hello = run("def main():\n    return 'hi'\n")
    assert hello["result"] == "hi" and hello["sandbox"] == {"backend": "bubblewrap", "memory": "rlimit"}
    assert_tampered(run(REBIND))
    assert run("def main():\n    x = []\n    while True:\n        x.append(bytearray(1 << 24))\n")["error"]["type"] \
        == "memory_limit"
    assert run(WRITES)["result"] == {"cap": ["no-proc"], "wrote": []}


# A stand-in for nsjail where none is installed, in a directory of PATH outside the sandbox's
# environment (as the production image's /usr/local/bin): it notes the cgroup it was started in
# beside itself, then runs the jail's command line in a pid namespace of its own (the reporter must be
# its pid 1) and otherwise unconfined, with the harness where its bind puts it.
FAKE_NSJAIL = """#!/usr/bin/python3
import os, sys
args = sys.argv[1:]
inner = next(a for i, a in enumerate(args) if args[i - 1] == "--bindmount_ro" and ":" in a)
source, target = inner.split(":")
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "notes"), "w") as notes:
    notes.write(open("/proc/self/cgroup").read())
argv = [a.replace(target, source) for a in args[args.index("--") + 1:]]
os.execv("/usr/bin/unshare", ["unshare", "--pid", "--fork", "--kill-child", *argv])
"""


@pytest.fixture
def fake_nsjail(tmp_path, monkeypatch):
    path = tmp_path / "nsjail"
    path.write_text(FAKE_NSJAIL)
    path.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setenv("SCRIPTRUN_SANDBOX_BACKEND", "nsjail")
    return tmp_path / "notes"


def test_nsjail_runs_in_the_runs_cgroup_where_one_can_be_made(fake_nsjail):
    import runner
    envelope = runner.run_request({"script": "def main():\n    return 1\n"})
    assert envelope["result"] == 1 and envelope["sandbox"] == {"backend": "nsjail", "memory": "cgroup"}, envelope
    assert "/scriptrun/run-" in fake_nsjail.read_text()


def test_nsjail_says_rlimit_where_no_cgroup_of_the_run_can_be_made(fake_nsjail, monkeypatch):
    # As in a pod: nsjail sets no cgroup of its own, so only RLIMIT_AS bounds the run's memory.
    import cgroups
    import runner
    monkeypatch.setattr(cgroups, "ROOT", "/proc/no-cgroups-here")
    envelope = runner.run_request({"script": "def main():\n    return 1\n"})
    assert envelope["result"] == 1 and envelope["sandbox"] == {"backend": "nsjail", "memory": "rlimit"}, envelope

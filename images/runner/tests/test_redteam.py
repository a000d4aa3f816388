"""Red team: the hostile scripts of redteam/ (what each tries, what stops it and what must come back
are in redteam/cases.json, which test/cluster/redteam.test.ts sends through the real cluster too),
sent through the harness as a user would send them. "with /proc" is this host's sandbox, "without
/proc" a pod's (no fresh /proc can be mounted there), both through the `run_either` fixture; "pod
path" is a pod's whole situation: unprivileged, no /proc, no cgroup of its own, rlimits only. No
probe opens a socket. Attacks covered in test_hostile.py and test_confinement.py are listed with
these in the README's security model."""
import importlib.util
import json
import os
import subprocess
import sys
import time

import pytest

from cases import REPO, check
from conftest import RUNNER, is_frame, run_runner
import confine
import sandbox

REDTEAM = os.path.join(os.path.dirname(__file__), "redteam")
with open(os.path.join(REDTEAM, "cases.json"), encoding="utf-8") as f:
    CASES = {case["name"]: case for case in json.load(f)["cases"]}

# As a pod runs it: with its output framed live on stdout, ahead of the envelope.
POD_CODE = (f"import sys\nsys.path.insert(0, {os.path.dirname(os.path.abspath(RUNNER))!r})\nimport runner\n"
            "runner._PROC_OK = False\nsys.argv[1:] = ['--live-output']\nrunner.main()\n")


def script_of(case):
    with open(os.path.join(REDTEAM, case["script"]), encoding="utf-8") as f:
        return f.read()


def request_of(case):
    """The case's request, its script read in and "$CALLER_PID" made this process's id."""
    request = {**case["request"], "script": script_of(case)}
    if "args" in request:
        request["args"] = [os.getpid() if arg == "$CALLER_PID" else arg for arg in request["args"]]
    return request


def expectation(case, envelope, with_proc):
    """What the case must give where this envelope was made: a memory cgroup of the run's own, a
    /proc in the sandbox, or neither (a pod's situation, `expect`)."""
    if envelope["sandbox"]["memory"] == "cgroup" and "expectWithCgroup" in case:
        return case["expectWithCgroup"]
    if with_proc and "expectWithProc" in case:
        return case["expectWithProc"]
    return case["expect"]


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


def still_running(marker):
    return subprocess.run(["pgrep", "-f", marker], capture_output=True, check=False).returncode == 0


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_hostile_script_is_contained_through_the_harness(run_either, name, monkeypatch):
    """Each case's script through runner.py with /proc, and in process without it; a secret in the
    harness's environment (inherited by runner.py in both variants) must not reach the script."""
    monkeypatch.setenv("SCRIPTRUN_REDTEAM_SECRET", "not-for-the-script")
    case = CASES[name]
    started = time.monotonic()
    envelope = run_either(request_of(case))
    check({"name": name, "expect": expectation(case, envelope, run_either.with_proc)}, envelope,
          time.monotonic() - started)


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_hostile_script_is_contained_on_the_pods_path(name):
    """The same scripts as a runner pod runs them, which must give each case's `expect`, as on the
    cluster: e.g. filling /tmp or /dev/shm, whose tmpfs pages no rlimit sees, stops with ENOSPC
    because the sandbox's tmpfs mounts share the run's memory (sandbox.sized_tmpfs)."""
    case = CASES[name]
    envelope, seconds, _ = run_in_pod_path(request_of(case))
    check({"name": name, "expect": case["expect"]}, envelope, seconds)


def test_the_environment_case_expects_the_sandboxs_own_environment():
    assert CASES["harness-environment"]["expect"]["result"]["environment"] == sandbox.SANDBOX_ENV


def load_script(name):
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), os.path.join(REDTEAM, name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_probed_calls_are_numbered_as_the_seccomp_filter_numbers_them():
    numbers = load_script("calls.py").NUMBERS
    for arch, (column, _) in confine.ARCHES.items():
        assert {name: nr for name, nr in numbers[arch].items() if name != "pidfd_open"} == \
            {name: confine.DENIED[name][column] for name in numbers[arch] if name != "pidfd_open"}
        assert numbers[arch]["pidfd_open"] == 434  # the same on every architecture


# The calls that change nothing outside a throwaway process, safe to make unconfined on a host.
HARMLESS = ["unshare user", "keyctl", "add_key", "perf_event_open", "userfaultfd", "io_uring_setup"]


@pytest.mark.skipif(os.uname().machine not in confine.ARCHES, reason="no syscall table for this architecture")
def test_the_probe_calls_do_work_where_nothing_confines_them():
    """The control for privileged-calls: the same code, unconfined, is not refused, so the EPERMs
    there are the sandbox's doing. Only calls that touch nothing beyond the probe's own process."""
    code = script_of(CASES["privileged-calls"]) + "\nimport json, sys\nprint(json.dumps(main(sys.argv[1:])))\n"
    proc = subprocess.run([sys.executable, "-c", code, *HARMLESS], capture_output=True, text=True, timeout=30,
                          check=True)
    unconfined = json.loads(proc.stdout)
    # Which of them a host allows varies (sysctls, kernel config); keyrings are there for everyone.
    assert unconfined["keyctl"] == "allowed" and unconfined["add_key"] == "allowed", unconfined


def test_every_tmpfs_of_the_bubblewrap_sandbox_is_sized_and_the_scripts_argv_left_alone():
    argv = ["python3", "--tmpfs", "x"]
    cmd = sandbox.sized_tmpfs(sandbox.bwrap_command(argv), 1 << 26)
    options, script = cmd[:cmd.index("--")], cmd[cmd.index("--") + 1:]
    mounts = [options[at - 2:at + 2] for at, arg in enumerate(options) if arg == "--tmpfs"]
    # Together no more than the run's memory: each of its full size let a script fill twice that.
    assert mounts == [["--size", str(3 << 24), "--tmpfs", "/tmp"], ["--size", str(1 << 24), "--tmpfs", "/dev/shm"]]
    assert script == argv


PATHS = {"host": run_runner, "pod": run_in_pod_path}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_output_after_main_returns_stays_inside_the_envelopes_stdout(path):
    """Beyond the case's envelope: stdout holds the one envelope, printed by runner.py after the
    sandbox has ended (on the pod path after the frames of live output, which hold what the
    envelope's stdout holds). The setsid double-forked grandchild holding stdout dies when the
    reporter, pid 1, exits: its late line never comes and it does not hold the run open. On the pod
    path no cgroup is there to kill it: the pid namespace alone does."""
    case = CASES["output-after-main-returns"]
    envelope, seconds, stdout = PATHS[path](request_of(case))
    *frames, last = stdout.splitlines()
    assert stdout.endswith("\n") and json.loads(last) == envelope
    assert all(is_frame(line) for line in frames)
    assert "".join(json.loads(line)["text"] for line in frames) == (envelope["stdout"] if path == "pod" else "")
    check(case, envelope, seconds)
    assert seconds < 3  # so the grandchild, had it lived, would have printed after the run's end
    time.sleep(0.3)
    assert not still_running(f"sleep {case['request']['args'][1]}")  # its command line, as sh and then as sleep


def test_the_request_file_and_the_termination_log_are_out_of_reach(tmp_path):
    """The case's paths (a pod's) and this test's own request file and termination log, which
    runner.py really reads and writes here. The termination log holds the real envelope."""
    case = CASES["request-file-and-termination-log"]
    request_file, log = tmp_path / "request.json", tmp_path / "termination-log"
    own = [str(request_file), str(log)]
    request = request_of(case)
    request["args"] = [own + request["args"][0]]
    request_file.write_text(json.dumps(request))
    envelope, seconds, _ = run_runner(None, "--request", str(request_file), "--termination-log", str(log), raw="")
    expected = json.loads(json.dumps(case["expect"]))
    expected["result"]["tried"].update({f"{how} {path}": "ENOENT" for path in own for how in "ra"})
    check({"name": case["name"], "expect": expected}, envelope, seconds)
    assert json.loads(log.read_text()) == envelope


def test_the_readmes_security_model_names_every_case():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert [name for name in CASES if f"`{name}`" not in readme] == []

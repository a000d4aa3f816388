"""What a hostile script tries against the harness's result, and fails: forging
the report, ptracing the sandbox's pid 1, crashing or flooding the outer
harness, outliving its wall clock, passing its limits unnoticed."""
import json
import os
import subprocess
import sys
import time

import pytest

from conftest import RUNNER, run_runner
import runner
import sandbox
import verdict

FAKE = ('{"kind": "outcome", "ok": false, "result": null, "exitCode": 0, "error": {"type": "%s", '
        '"message": "forged", "line": null, "traceback": null, "suggestions": [], "availableFunctions": []}}')


def forging(body, forged_type):
    return f"import os, json, atexit, threading, time\nFAKE = {(FAKE % forged_type + chr(10)).encode()!r}\n{body}"


REBIND = forging("def main():\n    for fd in range(3, 256):\n        try:\n            os.write(fd, FAKE)\n"
                 "        except OSError:\n            continue\n        os.dup2(1, fd)\n    return 'real'\n",
                 "infrastructure_error")
LATE = {  # keeps a copy of every fd and writes a forgery after the real report
    "atexit": "    atexit.register(forge)\n",
    "thread": "    threading.Thread(target=lambda: (time.sleep(0.3), forge())).start()\n",
}
DUPS = ("def main():\n    dups = []\n    for fd in range(3, 64):\n        try:\n            dups.append(os.dup(fd))\n"
        "        except OSError:\n            pass\n"
        "    def forge():\n        for fd in dups:\n            try:\n                os.write(fd, FAKE)\n"
        "            except OSError:\n                pass\n")
DUMPS = forging("real_dumps = json.dumps\ndef main():\n    json.dumps = lambda *a, **k: FAKE.decode().strip()\n"
                "    return 'real'\n", "cancelled")


def assert_tampered(envelope):
    assert envelope["success"] is False and envelope["error"]["type"] == "runtime_error", envelope
    assert "tampered" in envelope["error"]["message"] and envelope["exitCode"] == 1


def test_a_script_cannot_forge_a_harness_error_by_rebinding_the_report_channel(run_either):
    assert_tampered(run_either({"script": REBIND}))


@pytest.mark.parametrize("when", sorted(LATE))
def test_a_script_cannot_add_a_report_after_the_real_one(when):
    envelope, _, _ = run_runner({"script": forging(DUPS + LATE[when] + "    return 'real'\n", "timeout")})
    assert_tampered(envelope)


def test_a_script_cannot_make_the_harness_write_its_forgery_by_replacing_json_dumps():
    assert_tampered(run_runner({"script": DUMPS})[0])


def test_a_script_can_still_say_anything_about_its_own_result():
    envelope, _, _ = run_runner({"script": "def main():\n    raise MemoryError\n"})
    assert envelope["error"]["type"] == "memory_limit"


PTRACE = """import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = libc.ptrace.restype = ctypes.c_long
def call(f, *args):
    r = f(*[ctypes.c_long(a) for a in args])
    return r if r < 0 else 'succeeded'
def main():
    tried = {'attach 1': call(libc.ptrace, 16, 1, 0, 0), 'attach parent': call(libc.ptrace, 16, os.getppid(), 0, 0)}
    for name in [k for k, v in tried.items() if v == 'succeeded']:
        libc.ptrace(ctypes.c_long(17), ctypes.c_long(1 if name == 'attach 1' else os.getppid()), None, None)
    pidfd = libc.syscall(ctypes.c_long(434), ctypes.c_long(1), ctypes.c_long(0))
    tried['pidfd_getfd'] = [fd for fd in range(64) if pidfd >= 0 and call(libc.syscall, 438, pidfd, fd, 0) != -1]
    tried['/proc/1/fd'] = []
    for fd in range(64):
        try:
            os.open(f'/proc/1/fd/{fd}', os.O_WRONLY)
            tried['/proc/1/fd'].append(fd)
        except OSError:
            pass
    return tried
"""


def test_a_script_cannot_ptrace_the_sandboxs_pid_1_or_take_its_fds(run_either):
    """Nor reopen its pipes through /proc/1/fd (where the sandbox has a /proc)."""
    envelope = run_either({"script": PTRACE, "timeoutSeconds": 5})
    assert envelope["success"], envelope
    assert envelope["result"] == {"attach 1": -1, "attach parent": -1, "pidfd_getfd": [], "/proc/1/fd": []}


def test_a_script_cannot_starve_the_reporter_by_lowering_its_limits(run_either):
    # The kernel lets a process change the rlimits of another of its uid, dumpable or not.
    script = ("import resource\ndef main():\n    try:\n        resource.prlimit(1, resource.RLIMIT_AS, (1 << 20, 1 << 20))\n"
              "    except PermissionError:\n        pass\n    return 'x' * 300000\n")
    envelope = run_either({"script": script})
    assert envelope["success"] and envelope["result"] == "x" * 300000, json.dumps(envelope)[:300]


def test_a_grandchild_that_outlives_main_dies_with_the_run():
    script = ("import os, subprocess\ndef main():\n    if os.fork() == 0:\n        os.setsid()\n"
              "        subprocess.Popen(['sleep', '31.4159'], start_new_session=True)\n        os._exit(0)\n"
              "    os.wait()\n    return 'done'\n")
    envelope, seconds, _ = run_runner({"script": script})
    assert envelope["result"] == "done" and seconds < 5
    time.sleep(0.3)
    assert subprocess.run(["pgrep", "-f", "sleep 31.4159"], capture_output=True).returncode == 1


def runner_with_fake_reporter(payload):
    """runner.py whose sandboxed reporter is replaced by a program writing `payload` (an expression) on the report fd."""
    fake = f"import os, sys\nos.write(int(sys.argv[-1]), b'started\\n' + {payload})\n"
    harness = os.path.dirname(RUNNER)
    code = (f"import sys\nsys.path.insert(0, {harness!r})\nimport runner, sandbox\n"
            f"sandbox.inner_argv = lambda fds: [sys.executable, '-c', {fake!r}, *map(str, fds)]\n"
            "sandbox.bwrap_command = lambda argv, with_proc=True: argv\nrunner.main()\n")
    return subprocess.run([sys.executable, "-c", code], input='{"script": "def main():\\n    return 1\\n"}',
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("payload", ["b'not json\\n'", "b'x' * (8 << 20)", """b'{"kind": "outcome", "ok": true, '"""
                                     """b'"result": NaN, "exitCode": 0, "error": null}\\n'"""],
                         ids=["not-json", "endless", "nan"])
def test_a_garbled_or_endless_report_still_ends_in_one_valid_envelope(payload):
    proc = runner_with_fake_reporter(payload)
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 1, proc.stderr[-2000:]
    envelope = json.loads(proc.stdout, parse_constant=lambda c: pytest.fail(f"{c} in the envelope"))
    assert envelope["error"]["type"] == "infrastructure_error"


@pytest.mark.parametrize("code", ["2**64", "256", "-1"])
def test_sys_exit_outside_0_to_255_is_a_failure_with_the_code_in_the_message(code):
    envelope, _, _ = run_runner({"script": f"import sys\ndef main():\n    sys.exit({code})\n"})
    assert envelope["success"] is False and envelope["error"]["type"] == "runtime_error"
    assert envelope["exitCode"] == 1 and str(eval(code)) in envelope["error"]["message"]


@pytest.mark.parametrize("megabytes", [2, 20])
def test_a_result_larger_than_the_output_limit_is_output_limit(megabytes):
    script = f"def main():\n    return 'x' * {megabytes} * 1000 * 1000\n"
    envelope, seconds, _ = run_runner({"script": script, "limits": {"outputBytes": 1000000}})
    assert envelope["error"]["type"] == "output_limit" and seconds < 20
    assert f"{megabytes * 1000000 + 2} bytes" in envelope["error"]["message"] and "1000000" in envelope["error"]["message"]


def test_a_megabyte_exception_message_is_cut_with_a_marker():
    envelope, _, _ = run_runner({"script": "def main():\n    raise ValueError('\u00e9' * 3000000)\n"})
    err = envelope["error"]
    assert err["type"] == "runtime_error" and len(err["message"].encode()) <= 16 * 1024
    assert "(cut, 6000012 bytes)" in err["message"] and len(err["traceback"].encode()) <= 64 * 1024


def test_unread_stdin_cannot_hold_the_run_past_its_timeout():
    request = {"script": "import time\ndef main():\n    time.sleep(60)\n", "stdin": "x" * (1 << 20), "timeoutSeconds": 2}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, RUNNER], input=json.dumps(request), capture_output=True, text=True,
                          timeout=30, check=False)
    assert json.loads(proc.stdout)["error"]["type"] == "timeout" and time.monotonic() - started < 5


def test_a_script_that_kills_itself_with_sigkill_is_not_a_memory_limit():
    envelope, _, _ = run_runner({"script": "import os\ndef main():\n    os.kill(os.getpid(), 9)\n"})
    assert envelope["error"]["type"] == "runtime_error" and envelope["exitCode"] == 137
    assert "signal 9 (SIGKILL)" in envelope["error"]["message"]


def test_only_the_kernels_records_make_a_signal_a_limit():
    limits = {"cpu": 3, "memory": 1 << 28}
    assert verdict.signal_error(9, 3.0, limits, False)["type"] == "timeout"  # RLIMIT_CPU's hard limit
    assert verdict.signal_error(24, 0.2, limits, False)["type"] == "runtime_error"  # a SIGXCPU it sent itself
    assert verdict.signal_error(9, 0.2, limits, True)["type"] == "memory_limit"
    guess = verdict.signal_error(9, 0.2, limits, None)
    assert guess["type"] == "memory_limit" and "no OOM counter" in guess["message"]


def test_a_script_that_sends_itself_sigxcpu_is_not_a_timeout():
    envelope, _, _ = run_runner({"script": "import os, signal\ndef main():\n    os.kill(os.getpid(), signal.SIGXCPU)\n"})
    assert envelope["error"]["type"] == "runtime_error" and "SIGXCPU" in envelope["error"]["message"]


def test_a_sandbox_that_does_not_make_the_reporter_its_pid_1_is_refused(monkeypatch):
    bwrap = sandbox.bwrap_command
    monkeypatch.setattr(sandbox, "bwrap_command", lambda argv, with_proc=True: [
        a for a in bwrap(argv, with_proc) if a != "--as-pid-1"])
    envelope = runner.run_request({"script": "def main():\n    return 1\n"})
    assert envelope["error"]["type"] == "infrastructure_error" and "pid 1" in envelope["error"]["message"]


@pytest.mark.parametrize("n", ["10**400", "2**63 - 1", "2**53", "-(2**53)"])
def test_an_integer_json_readers_would_round_is_an_invalid_result_with_a_hint(n):
    # The controller and the API read numbers as doubles: 2**53 + 1 would arrive as 2**53, a success
    # with a value the script never returned.
    envelope, _, _ = run_runner({"script": f"def main():\n    return {{'n': {n}}}\n"})
    assert envelope["error"]["type"] == "invalid_result", envelope
    assert "result['n'] is an integer beyond ±9007199254740991" in envelope["error"]["message"]
    assert "str(n)" in envelope["error"]["message"]


def test_an_integer_within_2_to_the_53_is_delivered_exactly():
    envelope, _, _ = run_runner({"script": "def main():\n    return [2**53 - 1, -(2**53 - 1)]\n"})
    assert envelope["success"] and envelope["result"] == [2**53 - 1, -(2**53 - 1)]


@pytest.mark.parametrize("script,result", [
    ("import os\nif os.fork() == 0:\n    print('child work')\nelse:\n    os.wait()\n    print('parent done')\n", None),
    ("import os, sys\ndef main():\n    if os.fork() == 0:\n        sys.exit(0)\n    os.wait()\n    return 'parent'\n", "parent"),
], ids=["script-mode", "function-mode"])
def test_a_script_that_forks_ends_as_its_first_process_does(script, result):
    # The fork runs to the end of the script through the harness too; only the first process reports.
    request = {"script": script, "mode": "script" if result is None else "function"}
    envelope, _, _ = run_runner(request)
    assert envelope["success"] and envelope["result"] == result, json.dumps(envelope)[:400]


def test_a_script_cannot_word_a_memory_limit_of_its_own():
    # Sent as its only message, a memory_limit with the script's own words would read like the
    # harness's OOM verdict: only the harness's MemoryError texts pass.
    fake = ('{"ok": false, "exitCode": 137, "error": {"type": "memory_limit", '
            '"message": "killed by the kernel OOM killer for using more than its limit"}}\n')
    script = (f"import os\nFAKE = {fake.encode()!r}\ndef main():\n    for fd in range(3, 64):\n        try:\n"
              "            os.write(fd, FAKE)\n        except OSError:\n            pass\n    os._exit(0)\n")
    envelope, _, _ = run_runner({"script": script})
    assert_tampered(envelope)


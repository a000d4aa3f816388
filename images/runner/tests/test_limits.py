"""A script that runs into a limit of its sandbox gets the error type of that limit, in words that say
which limit and what sets it, with its traceback and line as any error has them. A script that only
looks as if it did (EAGAIN from its own socket, a signal it sends itself) gets a runtime_error."""
import json
import signal

import pytest

from conftest import become_pod_user, run_runner
from test_redteam import run_in_pod_path
import outcome
import runner
import verdict

PIDS = 8
# An object that cannot be compared: an exception carrying it is still a runtime_error with its traceback.
ODD = ("class Odd:\n    __hash__ = object.__hash__\n    def __eq__(self, other):\n        raise ValueError('no')\n"
       "    def __str__(self):\n        return 'odd'\n")
# Each starts processes or threads that live on, on its line 4, until it cannot start one more.
STARTERS = {
    "fork": ("import os, time\ndef main():\n    while True:\n        if os.fork() == 0:\n"
             "            time.sleep(30)\n            os._exit(0)\n"),
    "subprocess": "import subprocess\ndef main():\n    while True:\n        subprocess.Popen(['sleep', '30'])\n",
    "posix_spawn": ("import os\ndef main():\n    while True:\n"
                    "        os.posix_spawn('/bin/sleep', ['sleep', '30'], {})\n"),
    "multiprocessing": ("import multiprocessing, time\ndef main():\n    for _ in range(20):\n"
                        "        multiprocessing.Process(target=time.sleep, args=(30,), daemon=True).start()\n"),
    "thread": ("import threading, time\ndef main():\n    while True:\n"
               "        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"),
}


def test_a_file_written_past_the_size_limit_is_a_resource_limit_naming_it(run_either):
    # Python ignores SIGXFSZ: the write past RLIMIT_FSIZE fails with EFBIG.
    script = ("def main():\n    with open('/tmp/big', 'wb') as f:\n        for _ in range(20):\n"
              "            f.write(b'x' * (1 << 20))\n")
    err = run_either({"script": script})["error"]
    assert err["type"] == "resource_limit", err
    assert err["message"] == "the script wrote a file past the 16 MiB file size limit (OSError: File too large)"
    assert err["line"] == 4 and err["traceback"].endswith("OSError: [Errno 27] File too large\n")


@pytest.mark.parametrize("script", [
    "import os, signal\ndef main():\n    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)\n"
    "    os.kill(os.getpid(), signal.SIGXFSZ)\n",
    "import signal\ndef main():\n    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)\n"
    "    with open('/tmp/big', 'wb') as f:\n        f.write(b'x' * (20 << 20))\n",
], ids=["sent-itself", "past-the-limit"])
def test_a_script_killed_by_sigxfsz_is_a_runtime_error(script):
    # Dying of SIGXFSZ takes restoring its default action, and then the kernel's and the script's own are alike.
    envelope, _, _ = run_runner({"script": script})
    assert envelope["error"]["type"] == "runtime_error" and envelope["exitCode"] == 128 + signal.SIGXFSZ
    assert "signal 25 (SIGXFSZ)" in envelope["error"]["message"]


@pytest.mark.parametrize("name", sorted(STARTERS))
def test_starting_a_process_or_thread_past_the_pids_limit_is_a_resource_limit_naming_it(run_either, name):
    envelope = run_either({"script": STARTERS[name], "limits": {"pids": PIDS}, "timeoutSeconds": 20})
    err = envelope["error"]
    assert err["type"] == "resource_limit", json.dumps(envelope)[:600]
    what = "thread" if name == "thread" else "process"
    assert err["message"].startswith(f"the script could not start a {what}: it reached its limit of {PIDS} "
                                     "processes and threads (limits.pids)")
    assert err["line"] == 4 and envelope["exitCode"] == 1
    assert err["traceback"].splitlines()[-1].startswith(
        "RuntimeError: can't start new thread" if name == "thread" else
        "BlockingIOError: [Errno 11] Resource temporarily unavailable")


def test_forking_past_the_pids_limit_on_the_pods_path_is_a_resource_limit():
    # No cgroup there: RLIMIT_NPROC alone stops the fork.
    become_pod_user()
    envelope, _, _ = run_in_pod_path({"script": STARTERS["fork"], "limits": {"pids": PIDS}})
    assert envelope["error"]["type"] == "resource_limit" and envelope["error"]["line"] == 4


@pytest.mark.parametrize("script, shown", [
    ("import socket\ndef main():\n    a, b = socket.socketpair()\n    a.setblocking(False)\n    a.recv(10)\n",
     "BlockingIOError: [Errno 11] Resource temporarily unavailable"),
    ("import os\ndef main():\n    r, w = os.pipe()\n    os.set_blocking(r, False)\n    os.read(r, 10)\n",
     "BlockingIOError: [Errno 11] Resource temporarily unavailable"),
    ("def main():\n    raise BlockingIOError(11, 'Resource temporarily unavailable')\n",
     "BlockingIOError: [Errno 11] Resource temporarily unavailable"),
    ("def main():\n    raise RuntimeError(\"can't start new thread\")\n", "RuntimeError: can't start new thread"),
    (f"{ODD}def main():\n    raise OSError(Odd(), 'odd')\n", "OSError: [Errno odd] odd"),
    (f"{ODD}def main():\n    raise RuntimeError(Odd())\n", "RuntimeError: odd"),
], ids=["socket", "pipe", "raised-eagain", "raised-thread-error", "odd-errno", "odd-argument"])
def test_eagain_or_a_thread_error_that_started_nothing_stays_a_runtime_error(script, shown):
    envelope, _, _ = run_runner({"script": script})
    assert envelope["error"]["type"] == "runtime_error" and envelope["error"]["message"] == shown


def test_the_reporter_passes_a_resource_limit_only_in_the_harness_s_own_words():
    limits = {"output": 1000, "pids": PIDS, "fsize": 16 << 20}

    def message(text):
        error = {"type": "resource_limit", "message": text, "line": 3, "traceback": None}
        return (json.dumps({"ok": False, "exitCode": 0, "error": error}) + "\n").encode()

    for text in outcome.resource_messages(limits).values():
        accepted = outcome.accept(message(text), limits)
        assert accepted["error"]["type"] == "resource_limit" and accepted["exitCode"] == 1
    with pytest.raises(outcome.Tampered):
        outcome.accept(message("the harness stopped the script at its process limit"), limits)


def test_limit_messages_give_sizes_in_readable_units_and_name_what_sets_them():
    limits = {"cpu": 3, "memory": 256 << 20, "fsize": 16 << 20}
    oom = verdict.signal_error(signal.SIGKILL, 0.2, limits, True)["message"]
    assert "more than its 256 MiB memory limit (resources.memory)" in oom
    envelope, _, _ = run_runner({"script": "def main():\n    print('x' * (2 << 20))\n"})
    assert envelope["error"] == {**envelope["error"], "type": "output_limit",
                                 "message": "the script printed more than its 1 MiB output limit (limits.outputBytes)"}
    envelope, _, _ = run_runner({"script": "def main():\n    return 'x' * 1500\n", "limits": {"outputBytes": 1024}})
    assert envelope["error"]["message"] == "the result is 1502 bytes (1.5 KiB), more than the 1 KiB output limit " \
                                           "(limits.outputBytes)"


def test_a_non_ascii_result_is_measured_as_the_utf8_json_a_scriptrun_stores():
    # 600 KB of UTF-8, which \\u-escaped JSON spells in 1.8 MB; printing it was always fine.
    envelope, _, _ = run_runner({"script": "def main():\n    return '\u00e9' * 300000\n"})
    assert envelope["success"] and envelope["result"] == "\u00e9" * 300000
    # Every step on the way (the script's message, the report, the envelope's line) carries what the limit
    # lets through: exactly 1 MiB; and 2 MiB of a 4 MiB limit, 6 MiB \\u-escaped, within the 4 MiB line.
    for length, limit in ((((1 << 20) - 2) // 2, 1 << 20), (1 << 20, 4 << 20)):
        envelope, _, _ = run_runner({"script": f"def main():\n    return '\u00e9' * {length}\n",
                                     "limits": {"outputBytes": limit}})
        assert envelope["success"] and envelope["result"] == "\u00e9" * length, envelope["error"]
    # Compact UTF-8 JSON: 2 bytes for an é, 4 for a character past U+FFFF, 2 for the quotes, 1 between items.
    sizes = {"'\u00e9' * 499": 1000, "'\u00e9' * 500": 1002, "'\U0001F600' * 249 + 'x'": 999, "[1] * 500": 1001}
    for result, size in sizes.items():
        envelope, _, _ = run_runner({"script": f"def main():\n    return {result}\n", "limits": {"outputBytes": 1000}})
        if size <= 1000:
            assert envelope["success"], (result, envelope["error"])
        else:
            assert envelope["error"]["message"] == f"the result is {size} bytes, more than the 1000 bytes output " \
                                                   "limit (limits.outputBytes)"


def test_an_envelope_stays_within_its_line_however_its_output_is_spelled_in_json():
    # Each stream at its 1 MiB cap, of a control character JSON spells in six bytes: 12 MiB as it was.
    script = "import os\ndef main():\n    os.write(1, b'\\x01' * (1 << 20))\n    os.write(2, b'\\x02' * (1 << 20))\n    return 'ok'\n"
    envelope, _, out = run_runner({"script": script})
    line = out.strip().splitlines()[-1]
    assert len(line) <= runner.ENVELOPE_BYTES
    assert (envelope["success"], envelope["result"], envelope["stdoutTruncated"], envelope["stderrTruncated"]) == (True, "ok", True, True)
    # Each stream had half the room: a start of what it printed.
    assert envelope["stdout"] == "\x01" * len(envelope["stdout"]) and len(envelope["stdout"]) > runner.ENVELOPE_BYTES // 13
    assert envelope["stderr"] == "\x02" * len(envelope["stderr"]) and len(envelope["stderr"]) > runner.ENVELOPE_BYTES // 13


def test_an_envelope_gives_one_stream_the_room_the_other_does_not_need():
    envelope = {"success": True, "result": None, "stdout": "x" * (5 << 20), "stderr": "short", "stdoutTruncated": False,
                "stderrTruncated": False, "error": None, "exitCode": 0, "durationMs": 1, "sandbox": None}
    fitted = json.loads(runner.dumps(envelope))
    assert (fitted["stderr"], fitted["stderrTruncated"], fitted["stdoutTruncated"]) == ("short", False, True)
    assert runner.ENVELOPE_BYTES - 2 <= len(runner.dumps(envelope)) <= runner.ENVELOPE_BYTES
    # Both streams over their half, or neither: never a byte past the line, whatever the flags end as.
    half = (runner.ENVELOPE_BYTES - len(runner.dumps({**envelope, "stdout": "", "stderr": ""}))) // 2
    for out, err in [("x" * (4 << 20), "y" * (4 << 20)), ("x" * half, "y" * (half + 1)), ("x" * (half + 1), "y" * (half + 1))]:
        assert len(runner.dumps({**envelope, "stdout": out, "stderr": err})) <= runner.ENVELOPE_BYTES
    small = {**envelope, "stdout": "fits"}
    assert json.loads(runner.dumps(small)) == small


def test_an_envelope_is_utf8_within_its_line_whatever_text_or_lone_surrogates_it_holds():
    envelope = {"success": True, "result": "\udcff" + "\u00e9" * 10, "stdout": "\u00e9" * (3 << 20), "stderr": "\ud800" * 10,
                "stdoutTruncated": False, "stderrTruncated": False, "error": None, "exitCode": 0, "durationMs": 1,
                "sandbox": None}
    data = runner.dumps(envelope).encode()  # no surrogate is left in the line to break its encoding
    assert runner.ENVELOPE_BYTES - 2 <= len(data) <= runner.ENVELOPE_BYTES
    fitted = json.loads(data)
    assert (fitted["result"], fitted["stderr"], fitted["stdoutTruncated"]) == (envelope["result"], "\ud800" * 10, True)
    # Two bytes an é, not the six of its \\u-escape: the line holds three times as much of it.
    assert len(fitted["stdout"]) > runner.ENVELOPE_BYTES // 2 - 1000


def test_an_error_at_a_limit_is_told_even_when_the_policy_denies_what_telling_it_takes():
    # The harness reads the failed call with dis; a policy denying it (or opcode) must not hide the limit.
    script = STARTERS["fork"]
    for deny in (["dis"], ["opcode"]):
        envelope, _, _ = run_runner({"script": script, "limits": {"pids": PIDS}, "imports": {"deny": deny}})
        assert envelope["error"]["type"] == "resource_limit", json.dumps(envelope)[:400]


def test_an_exception_whose_errno_raises_is_still_a_runtime_error_with_its_traceback():
    script = ("class Odd(OSError):\n    @property\n    def errno(self):\n        raise ValueError('boom')\n"
              "def main():\n    raise Odd('odd')\n")
    envelope, _, _ = run_runner({"script": script})
    assert envelope["error"]["type"] == "runtime_error" and envelope["error"]["line"] == 6, json.dumps(envelope)[:400]
    assert envelope["error"]["traceback"].endswith("Odd: odd\n")

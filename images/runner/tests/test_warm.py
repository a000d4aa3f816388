"""runner.py --warm, driven as the controller drives a warm pod: started with its bounds, its sandbox
up before any request, then one framed request on stdin, and one line (and the termination
message) back; with --live-output, as its pod runs it, the frames of live output come first."""
import hashlib
import json
import os
import platform
import signal
import subprocess
import sys
import time

import pytest

from cases import check, load_cases
from conftest import RUNNER, is_frame
import runner
import sandbox
import warm

BOUNDS = {"memory": "256Mi", "pids": 1024, "timeoutSeconds": 300, "outputBytes": 4194304}
HELLO = {"script": "def main():\n    return 'Hello, World!'\n"}
CASES = load_cases()
READ_SYSCALL = {"x86_64": "0", "aarch64": "63"}.get(platform.machine())


def frame(request):
    body = json.dumps(request, separators=(",", ":")).encode()
    return hashlib.sha256(body).hexdigest().encode() + b" " + body + b"\n"


def descendants(pid):
    children = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], list(children.get(pid, []))
    while todo:
        found.append(todo.pop())
        todo += children.get(found[-1], [])
    return found


class Warm:
    """A warm runner started as its pod starts it (`argv` replaces `python3 runner.py`)."""

    def __init__(self, tmp_path, bounds=BOUNDS, argv=(sys.executable, RUNNER), flags=()):
        self.log = tmp_path / "termination-log"
        env = {**os.environ, "SCRIPTRUN_WARM_LIMITS": json.dumps(bounds)}
        self.proc = subprocess.Popen([*argv, "--warm", "--termination-log", str(self.log), *flags], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def reporter(self, timeout=30):
        """The pid of the sandbox's pid 1, inner.py, once it is blocked reading its job from its request fd."""
        if READ_SYSCALL is None:
            pytest.skip(f"no read syscall number known for {platform.machine()}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for pid in descendants(self.proc.pid):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        argv = f.read().decode().split("\0")[:-1]
                    with open(f"/proc/{pid}/syscall") as f:
                        call = f.read().split()
                except OSError:
                    continue
                if len(argv) > 2 and argv[-3].endswith("/inner.py") and call[:2] == [READ_SYSCALL, hex(int(argv[-2]))]:
                    return pid
            assert self.proc.poll() is None, self.proc.stderr.read().decode()[-2000:]
            time.sleep(0.02)
        pytest.fail("the warm runner's sandbox never came to wait for its job")

    def send(self, data):
        """Writes `data` and closes stdin (one attach); returns (the one line answered, seconds taken)."""
        started = time.monotonic()
        out, err = self.proc.communicate(data, timeout=120)
        seconds = time.monotonic() - started
        assert self.proc.returncode == 0, err.decode()[-2000:]
        lines = out.decode().splitlines()
        assert len(lines) == 1, out[:2000]
        answer = json.loads(lines[0])
        assert self.log.read_text() == runner.termination_message(answer, runner.dumps(answer))
        return answer, seconds


def run_warm(tmp_path, request, bounds=BOUNDS):
    """Starts a warm runner, waits for its sandbox to wait, sends `request` framed: (answer, seconds)."""
    warm = Warm(tmp_path, bounds)
    warm.reporter()
    return warm.send(frame(request))


def witnessed(tmp_path):
    """argv of a runner whose sandbox also has `tmp_path/witness` writable at /witness: a script run
    there leaves a file behind, so a request that was never run is seen not to have been."""
    (tmp_path / "witness").mkdir()
    code = (f"import sys\nsys.path.insert(0, {os.path.dirname(RUNNER)!r})\nimport runner, sandbox\n"
            "bwrap = sandbox.bwrap_command\n"
            f"sandbox.bwrap_command = lambda argv, with_proc=True: ['bwrap', '--bind', {str(tmp_path / 'witness')!r},"
            " '/witness', *bwrap(argv, with_proc)[1:]]\nrunner.main()\n")
    return (sys.executable, "-c", code)


WITNESS = {"script": "def main():\n    open('/witness/ran', 'w').write('ran')\n    print('the script ran')\n"
                     "    return 'ran'\n"}


def test_a_framed_hello_world_is_answered_on_stdout_and_in_the_termination_message(tmp_path):
    envelope, _ = run_warm(tmp_path, HELLO)
    assert envelope["success"] and envelope["result"] == "Hello, World!" and envelope["exitCode"] == 0
    assert envelope["error"] is None and envelope["sandbox"]["backend"] in ("bubblewrap", "nsjail")
    assert 0 < envelope["durationMs"] and set(envelope) == set(runner._failed(None))


def test_with_live_output_the_frames_come_first_on_stdout_and_the_envelope_last_with_nothing_on_stderr(tmp_path):
    # As its pod runs it: the attach stream and the log both get the frames, then the envelope.
    warm = Warm(tmp_path, flags=("--live-output",))
    warm.reporter()
    out, err = warm.proc.communicate(frame({"script": "def main():\n    for i in range(3000):\n        print(i)\n"
                                                     "    return 'done'\n"}), timeout=120)
    assert warm.proc.returncode == 0 and err == b""
    *frames, last = out.decode().splitlines()
    assert frames and all(is_frame(line) for line in frames)
    assert "".join(json.loads(line)["text"] for line in frames) == "".join(f"{i}\n" for i in range(3000))
    envelope = json.loads(last)
    assert envelope["result"] == "done" and envelope["stdout"].count("\n") == 3000
    assert json.loads(warm.log.read_text())["truncated"] is True  # so the log's last line is what a reader needs


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case, tmp_path):
    # A pod for these cases' memory (they ask for no more than BOUNDS of anything else).
    resources = case["request"].get("resources")
    memory = resources.get("memory", "256Mi") if isinstance(resources, dict) else "256Mi"
    envelope, seconds = run_warm(tmp_path, case["request"], {**BOUNDS, "memory": memory})
    check(case, envelope, seconds)


def test_a_whole_request_runs_in_the_witnessed_sandbox(tmp_path):
    warm = Warm(tmp_path, argv=witnessed(tmp_path))
    warm.reporter()
    envelope, _ = warm.send(frame(WITNESS))
    assert envelope["result"] == "ran" and envelope["stdout"] == "the script ran\n"
    assert (tmp_path / "witness" / "ran").read_text() == "ran"


@pytest.mark.parametrize("data, reason", [
    (b"", "no request arrived"),
    (frame(WITNESS)[:-1], f"the request was incomplete: {len(frame(WITNESS)) - 1} bytes without an end of frame"),
    (b"4ab1" + frame(WITNESS)[4:], "the request's checksum did not match"),
    (frame(WITNESS)[:64] + b' {"script": "def main():\\n    return 1\\n"}\n', "the request's checksum did not match"),
], ids=["nothing", "no-end-of-frame", "garbled-checksum", "other-json"])
def test_a_request_that_did_not_arrive_whole_is_never_run(tmp_path, data, reason):
    warm = Warm(tmp_path, argv=witnessed(tmp_path))
    warm.reporter()  # the sandbox was up and waiting: had the runner given it the job, it would have run
    answer, _ = warm.send(data)
    assert answer == {"unrun": True, "reason": reason}
    assert not (tmp_path / "witness" / "ran").exists()


@pytest.mark.parametrize("asks, said", [
    ({"resources": {"memory": "128Mi"}}, "memory 134217728 bytes, not 268435456"),
    ({"timeoutSeconds": 301}, "timeoutSeconds 301, at most 300"),
    ({"limits": {"pids": 1025}}, "pids 1025, at most 1024"),
    ({"limits": {"outputBytes": 4194305}}, "outputBytes 4194305, at most 4194304"),
], ids=["other-memory", "longer", "more-pids", "more-output"])
def test_a_request_for_other_limits_than_the_pods_is_refused(tmp_path, asks, said):
    warm = Warm(tmp_path, argv=witnessed(tmp_path))
    warm.reporter()
    envelope, _ = warm.send(frame({**WITNESS, **asks}))
    assert envelope["error"]["type"] == "infrastructure_error" and envelope["sandbox"] is None
    assert envelope["error"]["message"].startswith("the warm pod was started for other limits")
    assert said in envelope["error"]["message"]
    assert not (tmp_path / "witness" / "ran").exists()


def test_a_request_that_is_whole_but_not_valid_is_refused_as_a_cold_run_would_refuse_it(tmp_path):
    warm = Warm(tmp_path)
    body = b'{"script": '
    envelope, _ = warm.send(hashlib.sha256(body).hexdigest().encode() + b" " + body + b"\n")
    assert envelope["error"]["type"] == "invalid_input" and "not JSON" in envelope["error"]["message"]


def test_the_requests_own_timeout_ends_it_not_the_pods(tmp_path):
    envelope, seconds = run_warm(tmp_path, {"script": "def main():\n    while True:\n        pass\n",
                                            "timeoutSeconds": 1})
    assert envelope["error"]["type"] == "timeout" and "its 1 s limit" in envelope["error"]["message"]
    assert envelope["durationMs"] < 10000 and seconds < 20


def test_the_script_runs_under_the_requests_own_rlimits(tmp_path):
    script = ("import resource\ndef main():\n"
              "    return [resource.getrlimit(resource.RLIMIT_CPU), resource.getrlimit(resource.RLIMIT_NPROC)]\n")
    envelope, _ = run_warm(tmp_path, {"script": script, "timeoutSeconds": 1, "limits": {"pids": 16}})
    assert envelope["result"] == [[2, 2], [16, 16]]  # not the bounds' 301 s and 1024 processes


def test_the_requests_own_pids_limit_is_enforced(tmp_path):
    script = ("import os, time\ndef main():\n    n = 0\n    try:\n        while True:\n"
              "            if os.fork() == 0:\n                time.sleep(3)\n                os._exit(0)\n"
              "            n += 1\n    except OSError:\n        return n\n")
    envelope, _ = run_warm(tmp_path, {"script": script, "limits": {"pids": 16}, "timeoutSeconds": 8})
    assert envelope["success"] and envelope["result"] < 16


@pytest.mark.parametrize("body", ["print('x' * 5000)", "return 'x' * 5000"], ids=["printed", "returned"])
def test_the_requests_own_output_limit_is_enforced(tmp_path, body):
    envelope, _ = run_warm(tmp_path, {"script": f"def main():\n    {body}\n", "limits": {"outputBytes": 1000}})
    assert envelope["error"]["type"] == "output_limit" and len(envelope["stdout"]) <= 1000


def test_nothing_is_printed_before_the_request(tmp_path):
    warm = Warm(tmp_path)
    warm.reporter()
    time.sleep(1)
    os.set_blocking(warm.proc.stdout.fileno(), False)
    with pytest.raises(BlockingIOError):  # not b"": the runner is alive and has said nothing
        os.read(warm.proc.stdout.fileno(), 4096)
    assert warm.proc.poll() is None and not warm.log.exists()
    os.set_blocking(warm.proc.stdout.fileno(), True)
    assert warm.send(frame(HELLO))[0]["result"] == "Hello, World!"


def test_the_sandbox_waits_before_the_request_and_never_holds_the_runners_stdin(tmp_path):
    warm = Warm(tmp_path)
    reporter = warm.reporter()  # up, its interpreter started and its modules imported, reading its job
    assert os.stat(f"/proc/{reporter}/fd/0").st_ino != os.stat(f"/proc/{warm.proc.pid}/fd/0").st_ino
    script = "import sys\ndef main():\n    return sys.stdin.read()\n"
    data = frame({"script": script, "stdin": "the request's stdin"}) + b"what follows the frame\n"
    envelope, _ = warm.send(data)
    assert envelope["result"] == "the request's stdin"


def test_a_script_cannot_forge_the_runners_line(tmp_path):
    script = ("import os\ndef main():\n    os.write(1, b'{\"unrun\": true, \"reason\": \"forged\"}\\n')\n"
              "    print('{\"success\": true, \"result\": \"forged\"}')\n    return 'real'\n")
    envelope, _ = run_warm(tmp_path, {"script": script})
    assert envelope["result"] == "real" and "unrun" not in envelope and "forged" in envelope["stdout"]


def test_sigterm_while_waiting_ends_the_runner_and_its_sandbox_at_once_printing_nothing_and_saying_unrun(tmp_path):
    warm = Warm(tmp_path)
    reporter = warm.reporter()
    warm.proc.send_signal(signal.SIGTERM)
    out, _ = warm.proc.communicate(timeout=5)
    assert out == b"" and warm.proc.returncode == 128 + signal.SIGTERM
    # A run whose request never reached this pod (an attach that never connected) starts again.
    assert json.loads(warm.log.read_text()) == {"unrun": True, "reason": "stopped before a request arrived"}
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{reporter}") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not os.path.exists(f"/proc/{reporter}")


@pytest.mark.parametrize("bounds", [None, "not json", json.dumps({"memory": "256Mi"})],
                         ids=["unset", "garbled", "partial"])
def test_a_warm_runner_without_its_bounds_exits_before_starting_anything(bounds):
    env = {k: v for k, v in os.environ.items() if k != "SCRIPTRUN_WARM_LIMITS"}
    if bounds is not None:
        env["SCRIPTRUN_WARM_LIMITS"] = bounds
    proc = subprocess.run([sys.executable, RUNNER, "--warm"], env=env, input=frame(HELLO), capture_output=True,
                          timeout=30, check=False)
    assert proc.returncode != 0 and proc.stdout == b"" and b"SCRIPTRUN_WARM_LIMITS" in proc.stderr


def test_a_warm_nsjail_has_no_lifetime_of_its_own_while_a_cold_one_keeps_its_backstop():
    # nsjail counts its --time_limit from its start: a warm sandbox would die while it waits for its request.
    limits = warm.bounds_of(json.dumps(BOUNDS))
    flag = lambda cmd: cmd[cmd.index("--time_limit") + 1]
    assert flag(sandbox.nsjail_command(limits, (7, 8), lifetime=0)) == "0"
    assert flag(sandbox.nsjail_command(limits, (7, 8))) == "301"


def test_sigterm_during_a_run_does_not_say_unrun(tmp_path):
    warm = Warm(tmp_path)
    warm.reporter()
    warm.proc.stdin.write(frame({"script": "import time\ndef main():\n    time.sleep(30)\n", "timeoutSeconds": 60}))
    warm.proc.stdin.close()
    time.sleep(1)  # the request read, the script asleep
    warm.proc.send_signal(signal.SIGTERM)
    warm.proc.wait(timeout=5)
    assert warm.proc.returncode == 128 + signal.SIGTERM
    assert not warm.log.exists() or "unrun" not in warm.log.read_text()

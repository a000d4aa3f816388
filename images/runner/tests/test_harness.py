"""The harness's own promises beyond the shared cases."""
import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import RUNNER, run_runner
import runner
import sandbox


def test_a_daemonised_grandchild_does_not_outlive_the_run():
    # The grandchild becomes a `sleep` with an argument no other process on the host has (runner
    # pods of a running cluster are host processes too, so "inner.py" would match theirs).
    script = ("import os, time\ndef main():\n    if os.fork() == 0:\n        os.setsid()\n"
              "        if os.fork() == 0:\n            os.execv('/bin/sleep', ['sleep', '27.1828'])\n        os._exit(0)\n"
              "    time.sleep(30)\n")
    envelope, seconds, _ = run_runner({"script": script, "timeoutSeconds": 1})
    assert envelope["error"]["type"] == "timeout" and seconds < 10
    time.sleep(0.5)
    assert subprocess.run(["pgrep", "-f", "sleep 27.1828"], capture_output=True).returncode == 1


def test_a_script_ignoring_sigterm_is_stopped_at_its_timeout():
    script = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ndef main():\n    time.sleep(60)\n"
    envelope, seconds, _ = run_runner({"script": script, "timeoutSeconds": 1})
    assert envelope["error"]["type"] == "timeout" and seconds < 10


def test_writing_to_the_report_channel_cannot_claim_another_outcome():
    # Even a script that finds the report fd only reports its own result, which it could return anyway;
    # the envelope's success, exit code and sandbox come from the outer harness.
    script = "import os\ndef main():\n    os.write(1, b'{\"success\": true}\\n')\n    raise ValueError('no')\n"
    envelope, _, _ = run_runner({"script": script})
    assert envelope["success"] is False and envelope["error"]["type"] == "runtime_error"
    assert envelope["sandbox"]["backend"] in ("bubblewrap", "nsjail")


def test_imports_denied_by_policy_are_refused_statically_and_at_run_time():
    static, _, _ = run_runner({"script": "import socket\ndef main():\n    return 1\n", "imports": {"deny": ["socket"]}})
    assert static["error"]["type"] == "disallowed_import" and static["sandbox"] is None
    dynamic, _, _ = run_runner({"script": "def main():\n    return __import__('socket').AF_INET\n",
                                "imports": {"deny": ["socket"]}})
    assert dynamic["error"]["type"] == "disallowed_import"


def test_a_cold_run_loads_only_what_it_uses():
    # Every cold pod starts the harness afresh: OpenSSL's hashlib (the warm pod's checksum) and
    # difflib (a missing entrypoint's suggestion) are some 10 ms of its CPU that a run needs neither of.
    proc = subprocess.run([sys.executable, "-X", "importtime", RUNNER], input=json.dumps({"script": "def main():\n    return 1\n"}),
                          capture_output=True, text=True, timeout=60)
    assert json.loads(proc.stdout)["success"] is True
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "json" in imported and not imported & {"hashlib", "_hashlib", "difflib"}


def test_a_missing_entrypoint_suggests_the_close_name():
    envelope, _, _ = run_runner({"script": "def mian():\n    return 1\n"})
    assert envelope["error"]["type"] == "missing_entrypoint"
    assert "Did you mean 'mian'?" in envelope["error"]["suggestions"]


def test_an_entrypoint_defined_inside_a_block_or_by_exec_runs_and_one_the_run_leaves_unbound_is_missing():
    for script in ("try:\n    import nosuchmodule\n    def main():\n        return 'a'\nexcept ImportError:\n    def main():\n        return 'b'\n",
                   "import sys\nif sys.version_info >= (3, 0):\n    def main():\n        return 'b'\n",
                   "exec('def main():\\n    return \"b\"')\n"):
        envelope, _, _ = run_runner({"script": script})
        assert (envelope["success"], envelope["result"]) == (True, "b"), (script, envelope)
    envelope, _, _ = run_runner({"script": "def main():\n    return 1\ndef other():\n    return 2\ndel main\n"})
    assert envelope["error"]["type"] == "missing_entrypoint", envelope
    assert envelope["error"]["message"] == "the script defines no function 'main'"
    assert envelope["error"]["availableFunctions"] == ["other"]
    envelope, _, _ = run_runner({"script": "if True:\n    main = 3\n"})
    assert envelope["error"]["type"] == "missing_entrypoint"
    assert envelope["error"]["message"] == "the script's 'main' is not a function but int"


def test_a_missing_module_is_named_with_what_the_image_provides():
    envelope, _, _ = run_runner({"script": "import requests\ndef main():\n    return 1\n"})
    assert "requests" in envelope["error"]["message"] and "numpy" in envelope["error"]["message"]


def test_invalid_input_is_refused_with_the_reason():
    envelope, _, _ = run_runner({"script": "def main(): return 1", "args": {"not": "a list"}})
    assert envelope["error"] == {**envelope["error"], "type": "invalid_input", "message": "args must be an array"}


def test_the_termination_message_is_the_envelope_or_a_marker_within_4_kib(tmp_path):
    log = tmp_path / "termination"
    request = tmp_path / "request.json"
    for result_size, marker in ((10, False), (20000, True)):
        request.write_text(json.dumps({"script": f"def main():\n    return 'x' * {result_size}\n"}))
        proc = subprocess.run([sys.executable, RUNNER, "--request", str(request), "--termination-log", str(log)],
                              capture_output=True, text=True, check=True)
        message = log.read_bytes()
        assert len(message) <= 4096
        parsed = json.loads(message)
        assert parsed.get("truncated", False) is marker
        assert json.loads(proc.stdout.splitlines()[-1])["result"] == "x" * result_size


def test_a_result_of_non_ascii_text_reaches_the_termination_message_and_the_log_and_one_with_a_lone_surrogate_is_refused(tmp_path):
    envelope, _, _ = run_runner({"script": "def main():\n    return {'k': ['a\\udcffb']}\n"})
    assert envelope["error"]["type"] == "invalid_result"
    assert envelope["error"]["message"].startswith("result['k'][0] holds a lone UTF-16 surrogate (U+DCFF)")
    log = tmp_path / "termination"
    request = tmp_path / "request.json"
    for expression, result, marker in (("'\u00e9' * 10", "\u00e9" * 10, False),
                                       ("'\u00e9' * 3000", "\u00e9" * 3000, True)):
        request.write_text(json.dumps({"script": f"def main():\n    return {expression}\n"}))
        proc = subprocess.run([sys.executable, RUNNER, "--request", str(request), "--termination-log", str(log)],
                              capture_output=True, check=True)
        message, line = log.read_bytes(), proc.stdout.splitlines()[-1]
        assert len(message) <= 4096 and json.loads(message).get("truncated", False) is marker
        assert json.loads(line)["result"] == result and len(line) < 7000  # UTF-8: 2 bytes an é, not 6
        assert marker or json.loads(message)["result"] == result


def test_the_preflight_server_answers_each_line_in_order():
    lines = [{"script": "def main():\n    return 1\n"}, {"script": "def main(:\n"}, {"script": "x = 1\n"}]
    proc = subprocess.run([sys.executable, RUNNER, "--preflight-server"], capture_output=True, text=True, check=True,
                          input="".join(json.dumps(l) + "\n" for l in lines) + "not json\n")
    answers = [json.loads(l) for l in proc.stdout.splitlines()]
    assert [a["ok"] for a in answers] == [True, False, False, False]
    assert [a["error"]["type"] for a in answers[1:]] == ["syntax_error", "missing_entrypoint", "invalid_input"]


# As JSON.stringify writes a lone surrogate in a JavaScript string: escaped, so the line itself is ASCII.
LONE_SURROGATE = b'{"script": "def main():\\n    return \\"\\ud800\\""}\n'


def test_the_preflight_server_answers_a_lone_surrogate_and_whatever_else_a_line_holds_then_goes_on():
    # Its stdin as strict as a locale can make it (Python reads a C or C.UTF-8 one's with surrogateescape).
    server = subprocess.Popen([sys.executable, RUNNER, "--preflight-server"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env={**os.environ, "PYTHONIOENCODING": "utf-8:strict"})
    try:
        def ask(line):
            server.stdin.write(line)
            server.stdin.flush()
            answer = server.stdout.readline()
            assert answer, server.stderr.read().decode()[-2000:]
            return json.loads(answer)

        refused = ask(LONE_SURROGATE)["error"]
        assert (refused["type"], refused["line"]) == ("invalid_input", 2)
        assert refused["message"].startswith("script holds a lone UTF-16 surrogate (U+D800) on line 2")
        # Not UTF-8; and a shape the checks never foresaw (a deny list that is a number): each its own answer.
        assert ask(b'{"script": "x = \xff"}\n')["error"]["type"] == "invalid_input"
        unforeseen = ask(b'{"script": "import os\\ndef main():\\n    return 1\\n", "imports": {"deny": 5}}\n')
        assert unforeseen["error"]["type"] == "invalid_input"
        assert unforeseen["error"]["message"].startswith("the harness cannot check this request: TypeError")
        assert ask(b'{"script": "def main():\\n    return 1\\n"}\n') == {"ok": True}
    finally:
        server.kill()
        server.wait()


def test_a_lone_surrogate_in_the_script_is_invalid_input_in_the_one_shot_preflight_and_the_run():
    checked, _, _ = run_runner(None, "--preflight", raw=LONE_SURROGATE.decode())
    envelope, _, _ = run_runner(None, raw=LONE_SURROGATE.decode())
    assert checked["error"] == envelope["error"]
    assert (envelope["error"]["type"], envelope["error"]["line"], envelope["sandbox"]) == ("invalid_input", 2, None)
    assert "\\ud800" in envelope["error"]["message"]


def test_a_null_byte_in_the_script_is_a_syntax_error_without_a_line():
    envelope, _, _ = run_runner({"script": "def main():\n    return 1\x00\n"})
    assert envelope["error"] == {**envelope["error"], "type": "syntax_error", "line": None,
                                 "message": "source code string cannot contain null bytes"}
    envelope, _, _ = run_runner({"script": "def main(:\n"})
    assert envelope["error"]["message"].endswith("(line 1)") and envelope["error"]["line"] == 1


def test_the_nsjail_command_carries_every_limit():
    limits = sandbox.limits_of({"timeoutSeconds": 5, "resources": {"memory": "128Mi"},
                                "limits": {"pids": 32, "outputBytes": 1000}})
    cmd = sandbox.nsjail_command(limits, (7, 8))
    flag = lambda name: cmd[cmd.index(name) + 1]
    assert flag("--time_limit") == "6" and flag("--rlimit_cpu") == "6"
    assert flag("--rlimit_as") == str(128 + 512) and flag("--rlimit_nproc") == "32"
    assert "--chroot" not in cmd and any(cmd[i:i + 2] == ["--bindmount_ro", "/usr"] for i in range(len(cmd)))
    assert flag("--user") == "65534" and "--disable_clone_newnet" not in cmd
    assert cmd[-2:] == ["7", "8"] and ["--pass_fd", "7"] == cmd[cmd.index("--pass_fd"):cmd.index("--pass_fd") + 2]
    assert not any(a.startswith("KUBERNETES") for a in cmd)


def test_the_nsjail_jail_has_what_bubblewraps_has_dev_nodes_and_tmpfs_sized_from_the_run_memory():
    # nsjail's --tmpfsmount is 4 MiB and it makes no /dev: the jail gets bubblewrap's.
    limits = sandbox.limits_of({"timeoutSeconds": 5, "resources": {"memory": "128Mi"}, "limits": {}})
    cmd = sandbox.nsjail_command(limits, (7, 8))
    pairs = {(cmd[i], cmd[i + 1]) for i in range(cmd.index("--"))}
    assert ("--mount", "none:/tmp:tmpfs:size=100663296") in pairs
    assert ("--mount", "none:/dev/shm:tmpfs:size=33554432") in pairs
    assert {("--bindmount_ro", node) for node in ("/dev/null", "/dev/zero", "/dev/urandom")} <= pairs
    assert "--tmpfsmount" not in cmd and "--rw" not in cmd


def test_memory_quantities_parse_like_kubernetes():
    assert [sandbox.parse_quantity(q) for q in ("256Mi", "1Gi", "500M", "0.5Gi", "1048576")] == \
        [256 << 20, 1 << 30, 500_000_000, 512 << 20, 1048576]
    # Every spelling the CRD and the apiserver take, milli-bytes and exponents among them: a run
    # asking for one was an infrastructure_error from the harness.
    assert [sandbox.parse_quantity(q) for q in ("300000000000m", "0.0002Ti", "1e9", "1.5E3", "2k", "1E", "1Pi", "100n", ".5Mi")] == \
        [300_000_000, 219_902_326, 10**9, 1500, 2000, 10**18, 1 << 50, 1, 512 << 10]
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        sandbox.parse_quantity("lots")


def test_a_run_cannot_start_more_processes_than_its_pids_limit():
    script = ("import os, time\ndef main():\n    n = 0\n    try:\n        while True:\n"
              "            if os.fork() == 0:\n                time.sleep(3)\n                os._exit(0)\n"
              "            n += 1\n    except OSError:\n        return n\n")
    envelope, _, _ = run_runner({"script": script, "limits": {"pids": 16}, "timeoutSeconds": 8})
    assert envelope["success"] and envelope["result"] < 16


def test_a_report_written_by_the_script_is_overridden_by_the_real_one():
    script = ("import os\ndef main():\n    for fd in range(3, 64):\n        try:\n"
              "            os.write(fd, b'{\"ok\": true, \"result\": \"forged\", \"exitCode\": 0}\\n')\n"
              "        except OSError:\n            pass\n    raise ValueError('real')\n")
    envelope, _, _ = run_runner({"script": script})
    assert envelope["success"] is False and envelope["error"]["type"] == "runtime_error"


def test_import_module_cannot_get_past_a_denied_import():
    script = "import importlib\ndef main():\n    return importlib.import_module('so' + 'cket').AF_INET\n"
    envelope, _, _ = run_runner({"script": script, "imports": {"deny": ["socket"]}})
    assert envelope["error"]["type"] == "disallowed_import"


def test_async_main_is_awaited():
    envelope, _, _ = run_runner({"script": "async def main():\n    return '\u00e9'\n"})
    assert envelope["success"] and envelope["result"] == "\u00e9"


def test_return_outside_a_function_is_a_syntax_error_and_huge_timeouts_are_refused():
    envelope, _, _ = run_runner({"script": "return 1\n", "mode": "script"})
    assert envelope["error"]["type"] == "syntax_error" and envelope["error"]["line"] == 1
    envelope, _, _ = run_runner({"script": "def main():\n    return 1\n", "timeoutSeconds": 10**12})
    assert envelope["error"]["type"] == "invalid_input"


def test_a_missing_module_is_named_with_what_this_image_provides():
    envelope, _, _ = run_runner({"script": "import no_such_module_here\ndef main():\n    return 1\n"})
    message = envelope["error"]["message"]
    assert envelope["error"]["type"] == "runtime_error"
    assert message.startswith("ModuleNotFoundError: No module named 'no_such_module_here' (this runtime provides ")
    assert message.endswith("the Python standard library)")
    # What the sandbox's own interpreter finds, which may not be the interpreter running this test.
    found, _, _ = run_runner({"script": "import importlib.util\ndef main():\n"
                              "    return [n for n in ('numpy', 'pandas', 'sklearn') if importlib.util.find_spec(n)]\n"})
    for name in ("numpy", "pandas", "sklearn"):
        assert (name in message) == (name in found["result"]), message

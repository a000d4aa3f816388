"""The client against the real API on the real cluster (test/cluster/clients.test.ts starts both and runs
this with their addresses): results, output, events, waits longer than the API's longest stream, every
error class, cancel, the API's refusals, an API that is not there, and the package installed with pip."""

import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

import scriptrun
from scriptrun import Client

URL = os.environ["SCRIPTRUN_TEST_URL"]
BROKEN_RUNTIME = os.environ["SCRIPTRUN_TEST_BROKEN_RUNTIME"]
STRICT_RUNTIME = os.environ["SCRIPTRUN_TEST_STRICT_RUNTIME"]
STREAM_SECONDS = int(os.environ["SCRIPTRUN_TEST_STREAM_SECONDS"])
PACKAGE = os.path.join(os.path.dirname(__file__), "..", "..")


@pytest.fixture
def client():
    return Client(URL)


def greet(name, punctuation="!"):
    return f"Hello, {name}{punctuation}"


def mean_temperature_by_city(rows):
    import pandas as pd

    return pd.DataFrame(rows).groupby("city", as_index=False)["temp"].mean()


def test_runs_a_function_with_its_arguments_and_returns_its_result(client):
    assert client.run(greet, "Ada", punctuation="?") == "Hello, Ada?"


def test_runs_source_text_calling_its_main(client):
    assert client.run("def main(a, b):\n    return a + b\n", 2, 3) == 5


def test_runs_pandas_in_the_sandbox_and_gets_its_json_back(client):
    rows = [{"city": "Oslo", "temp": 3}, {"city": "Lima", "temp": 19}, {"city": "Oslo", "temp": 5}]
    assert client.run(mean_temperature_by_city, rows) == [{"city": "Lima", "temp": 19.0}, {"city": "Oslo", "temp": 4.0}]


def test_submit_and_wait_give_the_outcome_with_stdout_and_stderr(client):
    run = client.submit("import sys\ndef main():\n    print('to stdout')\n    print('to stderr', file=sys.stderr)\n    return 'done'\n")
    assert run.name.startswith("run-")
    outcome = client.wait(run)
    assert (outcome.success, outcome.phase, outcome.result, outcome.stdout, outcome.stderr) == (
        True, "Succeeded", "done", "to stdout\n", "to stderr\n")
    assert client.get(run.name)["result"] == "done"


def test_streams_the_phases_of_a_run_then_its_outcome(client):
    run = client.submit("import time\ndef main():\n    time.sleep(2)\n    return 1\n")
    events = list(client.stream(run))
    phases = [e.data["phase"] for e in events if e.type == "phase"]
    assert phases[-2:] == ["Running", "Succeeded"], phases
    assert [e.type for e in events][-1] == "finished" and events[-1].data["result"] == 1
    # A finished run's stream tells its outcome at once.
    assert [e.type for e in client.stream(run)] == ["phase", "finished"]


def test_streams_the_output_as_the_script_prints_it(client):
    run = client.submit("import time\ndef main():\n    for i in range(3):\n        print(f'tick {i}', flush=True)\n"
                        "        time.sleep(1)\n    return 'done'\n")
    seen = [(e, time.monotonic()) for e in client.stream(run)]
    output = [(e, at) for e, at in seen if e.type == "output"]
    assert "".join(e.data["text"] for e, _ in output) == "tick 0\ntick 1\ntick 2\n"
    assert all(e.data["stream"] == "stdout" for e, _ in output)
    finished_at = seen[-1][1]
    assert finished_at - output[0][1] > 1.5, "the first tick came while the script still ran"


def test_waits_for_a_run_longer_than_the_apis_longest_stream(client):
    seconds = STREAM_SECONDS + 4
    assert client.run(f"import time\ndef main():\n    time.sleep({seconds})\n    return 'still here'\n", timeout=seconds + 20) == "still here"


SLEEPER = "import time\ndef main():\n    time.sleep(120)\n"

# One run for each error type: (its script, the run's options, the class it raises).
FAILURES = {
    "invalid_input": ("def main():\n    return 1\n", {"timeout": 100000}, scriptrun.ScriptInvalidInput),
    "syntax_error": ("def main(:\n    return 1\n", {}, scriptrun.ScriptSyntaxError),
    "missing_entrypoint": ("def helper():\n    return 1\n", {}, scriptrun.ScriptMissingEntrypoint),
    "runtime_error": ("def main():\n    print('before')\n    return 1 / 0\n", {}, scriptrun.ScriptRuntimeError),
    "invalid_result": ("def main():\n    return {1, 2}\n", {}, scriptrun.ScriptInvalidResult),
    "timeout": ("import time\ndef main():\n    time.sleep(30)\n", {"timeout": 2}, scriptrun.ScriptTimeout),
    "memory_limit": ("def main():\n    x = []\n    while True:\n        x.append(bytearray(16 * 1024 * 1024))\n", {},
                     scriptrun.ScriptMemoryLimit),
    "output_limit": ("def main():\n    print('x' * (5 << 20))\n", {}, scriptrun.ScriptOutputLimit),
    "resource_limit": ("def main():\n    with open('/tmp/big', 'wb') as f:\n        f.write(b'x' * (20 << 20))\n", {},
                       scriptrun.ScriptResourceLimit),
    "disallowed_import": ("import socket\ndef main():\n    return 1\n", {"runtime": STRICT_RUNTIME}, scriptrun.ScriptDisallowedImport),
    "infrastructure_error": ("def main():\n    return 1\n", {"runtime": BROKEN_RUNTIME}, scriptrun.ScriptInfrastructureError),
}


def test_has_a_failing_run_for_every_error_class():
    assert sorted([*FAILURES, "cancelled"]) == sorted(scriptrun.ERROR_CLASSES)


@pytest.mark.parametrize("kind", sorted(FAILURES))
def test_raises_the_class_named_for_the_error(client, kind):
    script, options, cls = FAILURES[kind]
    with pytest.raises(cls) as raised:
        client.run(script, **options)
    err = raised.value
    assert isinstance(err, scriptrun.ScriptRunError) and err.type == kind, str(err)
    assert err.message
    if kind == "runtime_error":
        assert err.stdout == "before\n"
        assert "ZeroDivisionError" in err.traceback and 'line 3, in main' in err.traceback
    if kind == "infrastructure_error":
        assert "localhost/scriptrun/no-such-runner" in err.message


def test_cancels_a_run_which_then_raises_script_cancelled(client):
    run = client.submit(SLEEPER)
    for event in client.stream(run):
        if event.type == "phase" and event.data["phase"] == "Running":
            client.cancel(run)
            break
    with pytest.raises(scriptrun.ScriptCancelled) as raised:
        client.wait(run)
    assert raised.value.name == run.name
    with pytest.raises(scriptrun.ApiError) as again:
        client.cancel(run)
    assert (again.value.status, again.value.type) == (409, "conflict")


def test_raises_the_apis_refusals_as_api_errors(client):
    with pytest.raises(scriptrun.ApiError) as raised:
        client.get("run-not-there")
    assert (raised.value.status, raised.value.type) == (404, "not_found")
    assert not isinstance(raised.value, scriptrun.ScriptRunError)


def test_says_when_the_api_cannot_be_reached():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(scriptrun.ApiUnavailable, match=f"could not reach the API at http://127.0.0.1:{port}"):
        Client(f"http://127.0.0.1:{port}").run(greet, "Ada")


def test_installs_with_pip_and_runs_from_where_it_was_installed():
    with tempfile.TemporaryDirectory() as target:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--root-user-action=ignore", "--no-index", "--no-build-isolation", "--no-deps",
                        "--target", target, PACKAGE], check=True)
        assert os.path.exists(os.path.join(target, "scriptrun", "py.typed"))
        program = textwrap.dedent(f"""
            import scriptrun
            assert scriptrun.__file__.startswith({target!r}), scriptrun.__file__
            print(scriptrun.Client({URL!r}).run("def main():\\n    return 'installed'\\n"))
        """)
        done = subprocess.run([sys.executable, "-c", program], env={**os.environ, "PYTHONPATH": target}, cwd=target,
                              capture_output=True, text=True, check=True)
        assert done.stdout == "installed\n"

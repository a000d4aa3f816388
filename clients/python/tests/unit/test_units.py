"""What the client does without an API: reading event streams, sending functions, naming errors."""

import io

import pytest

import scriptrun
from scriptrun.errors import error_from
from scriptrun.sse import Event, StreamState, parse_events


def events(text: str, state=None):
    return list(parse_events(io.BytesIO(text.encode("utf-8")), state or StreamState()))


def test_reads_the_apis_event_stream_with_heartbeats():
    stream = ('retry: 2000\n\nevent: phase\ndata: {"name":"run-a","phase":"Pending"}\n\n: heartbeat\n\n'
              'event: finished\ndata: {"success":true,"result":42}\n\n')
    state = StreamState()
    assert events(stream, state) == [Event("phase", {"name": "run-a", "phase": "Pending"}), Event("finished", {"success": True, "result": 42})]
    assert state.retry_seconds == 2.0


def test_takes_crlf_and_cr_line_ends_joins_data_lines_remembers_ids_and_drops_an_unfinished_message():
    state = StreamState()
    assert events("id: 7\r\nevent: output\r\ndata: a\r\ndata: b\r\rdata: 3\n\nevent: phase\ndata: {}\n", state) == [
        Event("output", "a\nb", "7"), Event("message", 3, "7")]
    assert state.last_event_id == "7"


def greet(name, punctuation="!"):
    return f"Hello, {name}{punctuation}"


def test_sends_a_function_as_its_own_source_and_calls_it():
    assert scriptrun.script_of(greet) == {
        "script": 'def greet(name, punctuation="!"):\n    return f"Hello, {name}{punctuation}"\n', "entrypoint": "greet"}

    def nested(x):
        return x * 2

    assert scriptrun.script_of(nested) == {"script": "def nested(x):\n    return x * 2\n", "entrypoint": "nested"}
    assert scriptrun.script_of("def main():\n    return 1\n") == {"script": "def main():\n    return 1\n"}


def test_refuses_what_has_no_source_to_send_or_no_name_to_call():
    with pytest.raises(TypeError, match="lambda"):
        scriptrun.script_of(lambda: 1)
    with pytest.raises(TypeError, match="not int"):
        scriptrun.script_of(3)  # type: ignore[arg-type]


def test_names_one_exception_class_for_each_error_type():
    types = ["invalid_input", "syntax_error", "missing_entrypoint", "runtime_error", "invalid_result", "timeout", "memory_limit",
             "output_limit", "resource_limit", "disallowed_import", "cancelled", "infrastructure_error"]
    assert sorted(scriptrun.ERROR_CLASSES) == sorted(types)
    for kind in types:
        err = error_from({"name": "run-a", "namespace": "default", "success": False, "stdout": "out", "stderr": "err", "exitCode": 1,
                          "error": {"type": kind, "message": "it failed", "traceback": "  File x\n", "suggestions": ["try"]}})
        assert type(err) is scriptrun.ERROR_CLASSES[kind] and isinstance(err, scriptrun.ScriptRunError)
        assert type(err).__name__.startswith("Script")
        assert (err.type, err.message, err.stdout, err.stderr, err.traceback, err.suggestions, err.name, err.exit_code) == (
            kind, "it failed", "out", "err", "  File x\n", ["try"], "run-a", 1)
    assert scriptrun.ScriptTimeout.__name__ == "ScriptTimeout" and scriptrun.ScriptMemoryLimit.type == "memory_limit"


def test_says_the_error_as_a_person_reads_it():
    err = error_from({"error": {"type": "runtime_error", "message": "ZeroDivisionError: division by zero", "line": 2,
                                "traceback": '  File "<script>", line 2, in main\nZeroDivisionError: division by zero\n'}})
    assert str(err) == ('runtime_error: ZeroDivisionError: division by zero (line 2)\nTraceback (most recent call last):\n'
                        '  File "<script>", line 2, in main\nZeroDivisionError: division by zero')

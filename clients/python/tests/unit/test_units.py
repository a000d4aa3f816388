"""What the client does without an API: reading event streams, sending functions, naming errors."""

import http.server
import io
import threading
import time

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


def test_keeps_an_id_for_last_event_id_only_once_a_blank_line_ends_its_message():
    # The connection dropped after frame 8's id, before its blank line: a reopen must ask for 8 again.
    state = StreamState()
    assert events("id: 7\nevent: output\ndata: a\n\nid: 8\nevent: output\ndata: b\n", state) == [Event("output", "a", "7")]
    assert state.last_event_id == "7"
    # The stream opened again: what the dropped one left unfinished is no part of its messages, and a
    # blank line with no data commits its id too.
    assert events("retry: 10\n\ndata: 3\n\nid: 9\n\ndata: 4\n\n", state) == [Event("message", 3, "7"), Event("message", 4, "9")]
    assert state.last_event_id == "9"


class FakeApi:
    """An API on a local port that answers the run's event stream with ``answers`` in turn: a status code
    with nothing more, or the text of a stream that then ends; ``None`` goes away for a moment, refusing
    connections, and comes back on the same port."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.last_event_ids = []
        self.server = self._serve(0)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _serve(self, port):
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                api.last_event_ids.append(self.headers.get("Last-Event-ID"))
                answer = api.answers.pop(0)
                if isinstance(answer, int):
                    self.send_response(answer)
                    self.send_header("Content-Type", "application/json")
                    if answer == 429:
                        self.send_header("Retry-After", "1")
                    self.end_headers()
                    self.wfile.write(b'{"error":{"type":"unavailable","message":"restarting"}}')
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                self.wfile.write(answer.encode("utf-8"))
                self.wfile.flush()
                if api.answers and api.answers[0] is None:
                    # Gone before the client sees the stream end, back after several reconnection delays.
                    api.answers.pop(0)
                    port = api.server.server_address[1]
                    api.close()
                    threading.Timer(0.1, lambda: setattr(api, "server", api._serve(port))).start()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
        return server

    def close(self):
        self.server.shutdown()
        self.server.server_close()


RUNNING = 'retry: 10\n\nid: 1-0\nevent: phase\ndata: {"phase":"Running"}\n\n'
FINISHED = 'event: finished\ndata: {"success":true,"result":42}\n\n'


@pytest.mark.parametrize("away", [[503, 502, 504], [None]], ids=["answering 502, 503, 504", "refusing connections"])
def test_waits_through_an_api_away_for_a_moment_once_the_stream_was_open(away):
    api = FakeApi([RUNNING, *away, FINISHED])
    try:
        assert scriptrun.Client(api.url).wait("run-a").result == 42
        assert api.last_event_ids[-1] == "1-0"
    finally:
        api.close()


def test_opens_the_stream_again_after_the_retry_after_of_an_api_with_no_room_for_one_more_wait():
    api = FakeApi([RUNNING, 429, FINISHED])
    try:
        began = time.monotonic()
        assert scriptrun.Client(api.url).wait("run-a").result == 42
        # The stream's own retry is 10 ms: the wait is the 429's Retry-After, a second.
        assert time.monotonic() - began >= 1
        assert api.last_event_ids == [None, "1-0", "1-0"]
    finally:
        api.close()


def test_fails_at_once_when_the_first_open_finds_no_api():
    api = FakeApi([])
    api.close()
    with pytest.raises(scriptrun.ApiUnavailable) as raised:
        next(scriptrun.Client(api.url).stream("run-a"))
    assert str(raised.value).startswith(f"could not reach the API at {api.url}: ")
    assert str(scriptrun.ApiError(None, "stream_ended", "it ended")) == "stream_ended: it ended"
    assert str(scriptrun.ApiError(409, "conflict", "finished")) == "409 conflict: finished"


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
    syntax = error_from({"error": {"type": "syntax_error", "message": "invalid syntax (line 1)", "line": 1}})
    assert str(syntax) == "syntax_error: invalid syntax (line 1)"

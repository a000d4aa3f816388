"""What the client does without an API: reading event streams, following runs through an API that goes away
for a moment, creating runs, sending functions, naming errors."""

import http.server
import io
import threading
import time
import uuid

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
    """An API on a local port that creates run-a in namespace default (or answers ``post``, a status and a
    body) and answers the run's event stream with ``answers`` in turn: a status code with nothing more, a
    status with its body and headers, or the text of a stream that then ends; ``None`` goes away for a
    moment, refusing connections, and comes back on the same port."""

    def __init__(self, answers, post=None):
        self.answers = list(answers)
        self.post = post
        self.last_event_ids = []
        self.idempotency_keys = []
        self.server = self._serve(0)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _serve(self, port):
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                api.idempotency_keys.append(self.headers.get("Idempotency-Key"))
                status, body = api.post or (202, '{"name":"run-a","namespace":"default"}')
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode("utf-8"))

            def do_GET(self):
                api.last_event_ids.append(self.headers.get("Last-Event-ID"))
                answer = api.answers.pop(0)
                if isinstance(answer, int):
                    answer = (answer, '{"error":{"type":"unavailable","message":"restarting"}}', {"Retry-After": "1"} if answer == 429 else {})
                status, body, headers = answer if isinstance(answer, tuple) else (200, answer, {})
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if isinstance(answer, tuple) else "text/event-stream")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body.encode("utf-8"))
                self.wfile.flush()
                if api.answers and api.answers[0] is None:
                    # Gone before the client sees the answer end, back after several reconnection delays.
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
MAIN = "def main():\n    return 42\n"


def refused(status, kind, retry_after="0"):
    return status, f'{{"error":{{"type":"{kind}","message":"{kind} for now"}}}}', {"Retry-After": retry_after}


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


def test_opens_the_stream_of_a_run_it_just_created_again_while_the_api_is_full_or_away_from_the_first_open_on(monkeypatch):
    # The POST was answered: the URL is right, and the run is there. The API answers as it does under load or
    # while it shuts down, then goes away for a moment.
    monkeypatch.setattr(scriptrun.client, "RECONNECT_SECONDS", 0.05)
    api = FakeApi([refused(429, "too_many_waits", "1"), refused(503, "shutting_down"), None, FINISHED])
    try:
        client = scriptrun.Client(api.url)
        began = time.monotonic()
        assert client.run(MAIN) == 42
        assert time.monotonic() - began >= 1  # the 429's Retry-After
        run = client.submit(MAIN)
        api.answers = [refused(503, "cluster_unavailable"), FINISHED]
        assert client.wait(run).result == 42
    finally:
        api.close()


def test_names_the_run_in_an_error_once_it_was_created():
    api = FakeApi([refused(403, "forbidden"), RUNNING, refused(500, "internal")])
    try:
        client = scriptrun.Client(api.url)
        with pytest.raises(scriptrun.ApiError) as raised:
            client.run(MAIN)
        assert (raised.value.status, raised.value.run) == (403, scriptrun.Run("run-a", "default"))
        with pytest.raises(scriptrun.ApiError) as raised:
            list(client.stream("run-a"))
        assert (raised.value.status, raised.value.run) == (500, scriptrun.Run("run-a", ""))
    finally:
        api.close()


def test_tells_a_run_gone_while_its_stream_was_away_or_as_it_first_opens_as_deleted():
    gone = (404, '{"error":{"type":"not_found","message":"No run run-a in namespace default"}}', {})
    api = FakeApi([RUNNING, gone, gone, gone])
    try:
        client = scriptrun.Client(api.url)
        assert [event.type for event in client.stream("run-a")] == ["phase", "deleted"]
        with pytest.raises(scriptrun.ApiError) as raised:
            client.run(MAIN)
        assert (raised.value.status, raised.value.type, raised.value.run) == (410, "run_deleted", scriptrun.Run("run-a", "default"))
        # A run the caller named that is not there is no run of that name.
        with pytest.raises(scriptrun.ApiError) as raised:
            client.wait("run-a")
        assert (raised.value.status, raised.value.type) == (404, "not_found")
    finally:
        api.close()


def test_takes_a_gateways_json_for_what_it_is():
    # A gateway's 502 or 503 while the API restarts, with JSON of another shape than the API's.
    api = FakeApi([RUNNING, (502, '{"error": "Bad Gateway"}', {}), (503, '["no", "upstream"]', {}), FINISHED, (502, '{"error": "Bad Gateway"}', {})])
    try:
        client = scriptrun.Client(api.url)
        assert client.wait("run-a").result == 42
        with pytest.raises(scriptrun.ApiUnavailable) as raised:
            client.wait("run-a")
        assert str(raised.value) == 'the API answered 502 http_error: {"error": "Bad Gateway"}'
    finally:
        api.close()


def test_passes_on_a_phase_only_when_it_changed_though_each_reopened_stream_starts_with_it():
    def queued(position):
        return f'retry: 10\n\nevent: phase\ndata: {{"phase":"Queued","queuePosition":{position}}}\n\n'

    api = FakeApi([queued(2), queued(2), queued(2) + 'event: phase\ndata: {"phase":"Queued","queuePosition":1}\n\n', RUNNING, RUNNING + FINISHED])
    try:
        assert [(event.type, event.data.get("phase"), event.data.get("queuePosition")) for event in scriptrun.Client(api.url).stream("run-a")] == [
            ("phase", "Queued", 2), ("phase", "Queued", 1), ("phase", "Running", None), ("finished", None, None)]
    finally:
        api.close()


def test_sends_an_idempotency_key_with_each_submit_a_new_one_unless_given():
    api = FakeApi([])
    try:
        client = scriptrun.Client(api.url)
        assert client.submit(MAIN, idempotency_key="nightly-2024-06-01") == scriptrun.Run("run-a", "default")
        client.submit(MAIN)
        client.submit(MAIN)
        given, first, second = api.idempotency_keys
        assert given == "nightly-2024-06-01"
        assert uuid.UUID(first).version == 4 and first != second
        for bad in ["", "two words", "k" * 256, "clé"]:
            with pytest.raises(ValueError, match="idempotency_key"):
                client.submit(MAIN, idempotency_key=bad)
        assert len(api.idempotency_keys) == 3
    finally:
        api.close()


def test_refuses_a_nan_or_infinite_float_before_sending_naming_where_it_is():
    # Python's json writes NaN, which is no JSON: the API would refuse the whole body as not JSON.
    api = FakeApi([])
    try:
        client = scriptrun.Client(api.url)
        for args, kwargs, where in [((float("nan"),), {}, r"args\[0\] is nan"), ((1, [2.5, float("inf")]), {}, r"args\[1\]\[1\] is inf"),
                                    ((), {"x": {"y": -float("inf")}}, r"kwargs\['x'\]\['y'\] is -inf")]:
            with pytest.raises(ValueError, match=where + ", which JSON cannot carry"):
                client.submit("def main(*args, **kwargs):\n    return 1\n", *args, **kwargs)
        assert api.idempotency_keys == []
        assert client.submit(MAIN, 2.5, x=[1e308]) == scriptrun.Run("run-a", "default")
    finally:
        api.close()


def test_names_the_key_a_submit_sent_when_it_failed():
    api = FakeApi([], post=(503, '{"error":{"type":"cluster_unavailable","message":"the create may land still"}}'))
    try:
        with pytest.raises(scriptrun.ApiUnavailable) as raised:
            scriptrun.Client(api.url).run(MAIN, idempotency_key="retry-me")
        assert (raised.value.idempotency_key, raised.value.run) == ("retry-me", None)
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

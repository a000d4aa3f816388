"""The client of the ScriptRun HTTP API (api/README.md in the repository), standard library only.

A run is started with ``POST /runs`` (with an ``Idempotency-Key``) and followed on its event stream
(``GET /runs/NAME/events``), which the client opens again whenever the API ends it (after its longest
stream) or the connection drops, and again while the API is away for a moment (unreachable, or 502, 503
or 504 while it restarts), so a run of any length can be waited for."""

from __future__ import annotations

import http.client
import inspect
import json
import math
import re
import socket
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Set, Tuple, Union

from .errors import ApiError, ApiUnavailable, ScriptInvalidInput, error_from
from .sse import Event, StreamState, parse_events

#: Wait before reopening a stream, until the API names its own (``retry:``).
RECONNECT_SECONDS = 2.0
#: Longest silence on an event stream before it counts as dropped: the API sends a heartbeat every 15 s.
STREAM_READ_TIMEOUT = 60.0
# What the API takes as an Idempotency-Key (api/idempotency.ts): printable ASCII without spaces.
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


@dataclass(frozen=True)
class Run:
    """A run the API created."""

    name: str
    namespace: str


@dataclass(frozen=True)
class Outcome:
    """What a run came to, as the API answers it."""

    name: Optional[str]
    namespace: str
    success: Optional[bool]
    phase: Optional[str]
    result: Any
    stdout: str
    stderr: str
    error: Optional[Dict[str, Any]]
    exit_code: Optional[int]
    duration_ms: Optional[int]

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> "Outcome":
        return cls(name=body.get("name"), namespace=body.get("namespace", ""), success=body.get("success"),
                   phase=body.get("phase"), result=body.get("result"), stdout=body.get("stdout") or "",
                   stderr=body.get("stderr") or "", error=body.get("error"), exit_code=body.get("exitCode"),
                   duration_ms=body.get("durationMs"))


Script = Union[str, Callable[..., Any]]
RunLike = Union[Run, str]


def script_of(script: Script) -> Dict[str, str]:
    """The script and entrypoint of a run: source text as it is (its ``main`` is called), or a function's
    own source, which is then the function called. The function is sent alone: what it uses from its
    module (imports, other functions) must be inside it."""
    if isinstance(script, str):
        return {"script": script}
    if inspect.isfunction(script):
        if script.__name__ == "<lambda>":
            raise TypeError("a lambda has no name to call; define the function with def")
        return {"script": textwrap.dedent(inspect.getsource(script)), "entrypoint": script.__name__}
    raise TypeError(f"run takes Python source text or a function, not {type(script).__name__}")


class Client:
    """``Client("http://127.0.0.1:8080")``; ``token``: a bearer token when the API checks callers with
    Kubernetes; ``namespace``: where runs go (the API's default when None); ``timeout``: seconds to wait
    for each answer of the API (waiting for a run has no limit but the run's own)."""

    def __init__(self, url: str, token: Optional[str] = None, namespace: Optional[str] = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.namespace = namespace
        self.timeout = timeout
        # The runs this client created, while their Run is held: each is known to exist at a URL that answered.
        self._created: "weakref.WeakSet[Run]" = weakref.WeakSet()

    def run(self, script_or_function: Script, *args: Any, runtime: Optional[str] = None, timeout: Optional[int] = None,
            idempotency_key: Optional[str] = None, **kwargs: Any) -> Any:
        """Runs the script (calling its ``main``) or the function with ``args`` and ``kwargs``, waits, and
        returns the result; raises the ScriptRunError subclass named for the error when the run fails.
        ``runtime``: the ScriptRuntime to run on; ``timeout``: the run's wall-clock limit in seconds;
        ``idempotency_key`` as ``submit`` takes it. An ApiError once the run was created carries it as ``run``."""
        return self.wait(self.submit(script_or_function, *args, runtime=runtime, timeout=timeout, idempotency_key=idempotency_key,
                                     **kwargs)).result

    def submit(self, script_or_function: Script, *args: Any, runtime: Optional[str] = None, timeout: Optional[int] = None,
               idempotency_key: Optional[str] = None, **kwargs: Any) -> Run:
        """Starts the run without waiting for it. ``idempotency_key`` is sent as the API's ``Idempotency-Key``
        (1 to 255 printable ASCII characters without spaces; a new uuid4 when None): a submit of the same
        request with the same key, by the same caller in the same namespace, returns the run the first one
        made, while that run exists, rather than starting a second. An ApiError carries the key sent as its
        ``idempotency_key``, to submit again with when no answer came."""
        key = str(uuid.uuid4()) if idempotency_key is None else idempotency_key
        if not _IDEMPOTENCY_KEY.fullmatch(key):
            raise ValueError(f"idempotency_key must be 1 to 255 printable ASCII characters without spaces, not {key!r}")
        body: Dict[str, Any] = dict(script_of(script_or_function))
        if args:
            body["args"] = list(args)
        if kwargs:
            body["kwargs"] = kwargs
        if runtime is not None:
            body["runtime"] = runtime
        if timeout is not None:
            body["timeoutSeconds"] = timeout
        if self.namespace is not None:
            body["namespace"] = self.namespace
        try:
            answer = self._call("POST", "/runs", body=body, headers={"Idempotency-Key": key})
        except ApiError as err:
            err.idempotency_key = key
            raise
        created = Run(answer["name"], answer["namespace"])
        self._created.add(created)
        return created

    def wait(self, run: RunLike) -> Outcome:
        """Waits for the run to finish; its outcome when it succeeded, else raises its ScriptRunError (or,
        when it was deleted first, ApiError 410 ``run_deleted``)."""
        ref = self._ref(run)
        for event in self.stream(ref):
            if event.type == "finished":
                outcome = Outcome.from_api(event.data)
                if not outcome.success:
                    raise error_from(event.data)
                return outcome
            if event.type == "deleted":
                raise ApiError(410, "run_deleted", f"run {ref.name} was deleted before it finished", run=ref)
        raise ApiError(None, "stream_ended", f"the event stream of run {ref.name} ended without its outcome", run=ref)

    def stream(self, run: RunLike) -> Iterator[Event]:
        """The run's events as the API sends them (``phase`` on each change, with ``queuePosition`` while
        queued; ``output`` with ``stream``, ``offset`` and ``text`` as the script prints; then ``finished``
        with the outcome, or ``deleted``), until the run finished or was deleted. A stream opened again
        sends the Last-Event-ID, so no output comes twice, and the phase it starts with is passed on only
        when it changed.
        The API ends a stream after its longest wait; the client then opens it again (``timeout`` events,
        the stream's own, are not passed on), as it does after a dropped connection. An ApiError carries
        the run as its ``run``."""
        ref = self._ref(run)
        try:
            yield from self._events(ref)
        except ApiError as err:
            err.run = ref
            raise

    def _events(self, ref: Run) -> Iterator[Event]:
        # A run this client created is there, at a URL that answered: its first open is as a reopen.
        known = ref in self._created
        state = StreamState()
        path = f"/runs/{urllib.parse.quote(ref.name)}/events"
        pause: Optional[float] = None  # before opening the stream again; None before the first open
        last_phase: Any = None  # the phase (and place in the queue) last passed on
        while True:
            if pause is not None:
                time.sleep(pause)
            headers = {"Accept": "text/event-stream"}
            if state.last_event_id is not None:
                headers["Last-Event-ID"] = state.last_event_id
            try:
                response = self._open("GET", path, {"namespace": ref.namespace}, None, headers, STREAM_READ_TIMEOUT)
            except ApiError as err:
                # A stream once open, or of a run just created, is opened again while the API is away for a
                # moment (restarting, say) or has no room for one more wait (429, after its Retry-After), as
                # EventSource does, and a run no longer found was deleted meanwhile. Else the first open fails
                # at once, so that a wrong URL or name is told.
                if pause is None and not known:
                    raise
                if err.status == 404:
                    yield Event("deleted", {"name": ref.name, "namespace": ref.namespace})
                    return
                if not (isinstance(err, ApiUnavailable) or err.status == 429):
                    raise
                pause = err.retry_after if err.retry_after is not None else _reconnect_delay(state)
                continue
            try:
                for event in parse_events(response, state):
                    if event.type == "timeout":
                        continue
                    if event.type == "phase":
                        # Each connection starts with the current phase: the same again is no change.
                        data = event.data
                        phase = (data.get("phase"), data.get("queuePosition")) if isinstance(data, dict) else data
                        if phase == last_phase:
                            continue
                        last_phase = phase
                    yield event
                    if event.type in ("finished", "deleted"):
                        return
            except (OSError, http.client.HTTPException):
                pass  # A dropped connection or a silent stream: open it again, as its end.
            finally:
                response.close()
            pause = _reconnect_delay(state)

    def cancel(self, run: RunLike) -> None:
        """Asks for the run to be cancelled: its pod is stopped and it fails with ScriptCancelled.
        ApiError 409 when it finished already."""
        ref = self._ref(run)
        self._call("DELETE", f"/runs/{urllib.parse.quote(ref.name)}", {"namespace": ref.namespace})

    def get(self, run: RunLike) -> Dict[str, Any]:
        """The run as the API shows it: its outcome so far, its spec and its status."""
        ref = self._ref(run)
        result: Dict[str, Any] = self._call("GET", f"/runs/{urllib.parse.quote(ref.name)}", {"namespace": ref.namespace})
        return result

    def _ref(self, run: RunLike) -> Run:
        if isinstance(run, Run):
            return run
        return Run(run, self.namespace or "")

    def _call(self, method: str, path: str, query: Optional[Mapping[str, str]] = None, body: Any = None,
              headers: Optional[Mapping[str, str]] = None) -> Any:
        data = _json_text(body).encode("utf-8") if body is not None else None
        sent = {**(headers or {}), **({"Content-Type": "application/json"} if data is not None else {})}
        with self._open(method, path, query or {}, data, sent, self.timeout) as response:
            return json.loads(response.read().decode("utf-8"))

    def _open(self, method: str, path: str, query: Mapping[str, str], data: Optional[bytes], headers: Dict[str, str],
              timeout: float) -> http.client.HTTPResponse:
        params = urllib.parse.urlencode({k: v for k, v in query.items() if v})
        request = urllib.request.Request(f"{self.url}{path}{'?' + params if params else ''}", data=data, method=method,
                                         headers={**headers, **({"Authorization": f"Bearer {self.token}"} if self.token else {})})
        try:
            response: http.client.HTTPResponse = urllib.request.urlopen(request, timeout=timeout)
            return response
        except urllib.error.HTTPError as err:
            raise _refusal(err) from None
        except (urllib.error.URLError, socket.timeout, ConnectionError) as err:
            reason = getattr(err, "reason", err)
            raise ApiUnavailable(f"could not reach the API at {self.url}: {reason}") from None


def _json_text(body: Any) -> str:
    """The body as the strict JSON the API reads. Python's json writes NaN and Infinity, which JSON has
    not: the API would refuse the body as a whole, without saying which value it could not read."""
    try:
        return json.dumps(body, allow_nan=False)
    except ValueError:
        where = _non_finite(body, "", set())
        if where is None:
            raise  # not a float's doing (a circular reference): json's own message says it
        raise ValueError(f"{where[0]} is {where[1]!r}, which JSON cannot carry (it has no NaN or infinity), so nothing was "
                         "sent; pass None or a string for it") from None


def _non_finite(value: Any, path: str, seen: Set[int]) -> Optional[Tuple[str, float]]:
    """Where in ``value`` the first NaN or infinite float is (``args[0]``, ``kwargs['x'][1]``), and it; or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (path or "the value", value)
    if isinstance(value, (dict, list, tuple)):
        if id(value) in seen:
            return None
        seen.add(id(value))
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, float) and not math.isfinite(key):
                return (f"a key of {path or 'the value'}", key)
            # The body's own members by name (args, kwargs), what is inside them by index or key.
            found = _non_finite(item, f"{path}[{key!r}]" if path else str(key), seen)
            if found is not None:
                return found
    return None


def _refusal(err: urllib.error.HTTPError) -> Exception:
    """An error answer as the exception it deserves: a request refused as invalid is ScriptInvalidInput
    (the run's own error type for it), anything else an ApiError with the API's type and message."""
    text = err.read().decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    # Only the API's own shape says a type and message; a gateway's JSON ({"error": "Bad Gateway"}, a list)
    # is no more than its text.
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {}
    kind, message = error.get("type", "http_error"), error.get("message", text[:500] or str(err.reason))
    if err.code == 400 and kind == "invalid_input":
        return ScriptInvalidInput(message, error={"type": kind, "message": message})
    after = err.headers.get("Retry-After", "") if err.headers else ""
    retry_after = float(after) if after.isdigit() else None
    if err.code in (502, 503, 504):
        return ApiUnavailable(f"the API answered {err.code} {kind}: {message}", err.code, retry_after)
    return ApiError(err.code, kind, message, retry_after)


def _reconnect_delay(state: StreamState) -> float:
    return state.retry_seconds if state.retry_seconds is not None else RECONNECT_SECONDS

"""Server-Sent Events as EventSource reads them: lines end with CRLF, LF or CR; ``data`` lines join with
newlines; a blank line dispatches; ``:`` lines are comments (the API's heartbeats); ``id`` is remembered
for Last-Event-ID once a blank line ends its message (an id whose message never came whole is not sent back
as received); ``retry`` sets the reconnection delay."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, List, Optional


@dataclass(frozen=True)
class Event:
    """One event of a run's stream: ``type`` is ``phase``, ``finished``, ``deleted`` (or one a newer API
    sends); ``data`` its JSON payload; ``id`` the stream's last event id, if it sets ids."""

    type: str
    data: Any
    id: Optional[str] = None


@dataclass
class StreamState:
    last_event_id: Optional[str] = None
    retry_seconds: Optional[float] = None
    _event: str = ""
    _data: List[str] = field(default_factory=list)
    #: The standard's "last event ID buffer", committed to ``last_event_id`` by each blank line.
    _id: Optional[str] = None


def parse_events(lines: Iterable[bytes], state: StreamState) -> Iterator[Event]:
    """Events from a stream read a line at a time (as an HTTP response iterates); a message the stream
    ends before its blank line is dropped, as EventSource drops it."""
    # A stream opened again starts afresh: what the last one left unfinished is dropped.
    state._event, state._data, state._id = "", [], state.last_event_id
    pending = ""
    for raw in lines:
        text = (pending + raw.decode("utf-8")).replace("\r\n", "\n").replace("\r", "\n")
        *complete, pending = text.split("\n")
        for line in complete:
            event = _line(line, state)
            if event is not None:
                yield event


def _line(line: str, state: StreamState) -> Optional[Event]:
    if line == "":
        if state._id is not None:
            state.last_event_id = state._id
        event = None
        if state._data:
            data = "\n".join(state._data)
            event = Event(state._event or "message", _json(data), state.last_event_id)
        state._event, state._data = "", []
        return event
    if line.startswith(":"):
        return None
    name, _, value = line.partition(":")
    if value.startswith(" "):
        value = value[1:]
    if name == "event":
        state._event = value
    elif name == "data":
        state._data.append(value)
    elif name == "id" and "\0" not in value:
        state._id = value
    elif name == "retry" and value.isdigit():
        state.retry_seconds = int(value) / 1000
    return None


def _json(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data

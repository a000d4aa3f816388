"""The shape of an outcome and the rules every one of them obeys: the error
object, strict JSON, and the bounds on what any part of the harness passes on.

What a script says about its OWN result is its own business: it could return
or raise anything, so the reporter believes its success, result and the errors
a script can cause itself (SCRIPT_ERRORS, among them the MemoryError or the
error at a file size or process limit it did not catch, in the harness's words).
It cannot claim anything the harness decides: timeout, output limits,
infrastructure, how it ended (signals), or a second report. accept() enforces
that on the script's message."""
import json
import math
import re

MESSAGE_LIMIT = 16 * 1024
TRACEBACK_LIMIT = 64 * 1024
# What a message may hold beyond its result: the error's message and traceback
# at their limits, JSON-escaped (up to 6 bytes a byte), and the keys around them.
MESSAGE_ALLOWANCE = 6 * (MESSAGE_LIMIT + TRACEBACK_LIMIT) + 4096
# The largest integer every reader of the envelope keeps exact: the controller, the API and their
# JavaScript clients read JSON numbers as doubles, so past 2**53 - 1 an integer comes out rounded
# (RFC 7493, I-JSON, draws the same line). A result is refused there, not delivered wrong.
MAX_EXACT_INT = 2**53 - 1
# How deep a result (and each of a request's args and kwargs) may nest lists and dicts. Every step
# between the script and the envelope walks the value recursively under Python's recursion limit
# (1000): tojson's conversion takes two frames a level, and the reporter and the outer harness parse
# and write it again a level or two deeper (message, report, envelope) from deeper stacks of their
# own. Near 990 levels one of them fails after the script's own check passed, as the wrong error.
# 100 is far past any real data's nesting, and leaves every step, and the clients that parse the
# envelope, a margin of several hundred frames.
MAX_DEPTH = 100
SCRIPT_ERRORS = ("runtime_error", "invalid_result", "disallowed_import", "memory_limit", "resource_limit", "missing_entrypoint")
# The most function names a run's own missing_entrypoint passes on.
MAX_NAMED = 50
# What usercode.py says of a MemoryError, the only memory_limit a script's own message may carry.
MEMORY_MESSAGES = ("the script ran out of memory (MemoryError)", "the script ran out of memory turning its result into JSON")


class Tampered(ValueError):
    """The script's message is not the one its harness code writes."""


class TooDeep(TypeError):
    """A result nested past MAX_DEPTH."""

    def __init__(self):
        super().__init__(f"result is nested more than {MAX_DEPTH} levels deep (lists and dicts inside one "
                         "another), the most a result may be; flatten it, or return the deep part as a JSON "
                         "string (json.dumps)")


def readable(size):
    """A number of bytes as a person reads it: 16 MiB, 1000000 bytes (976.6 KiB), 1 byte."""
    if size < 1024:
        return f"{size} byte{'' if size == 1 else 's'}"
    units = ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB"))
    for unit, name in units:
        if size >= unit and size % unit == 0:
            return f"{size // unit} {name}"
    unit, name = next((unit, name) for unit, name in units if size >= unit)
    return f"{size} bytes ({size / unit:.1f} {name})"


def resource_messages(limits):
    """What usercode.py says of an error at the file size or process limit (a file, a process, a thread
    it could not make), the only resource_limit texts a script's own message may carry."""
    pids = f"its limit of {limits['pids']} processes and threads (limits.pids)"
    return {"file": f"the script wrote a file past the {readable(limits['fsize'])} file size limit "
                    "(OSError: File too large)",
            "process": f"the script could not start a process: it reached {pids}",
            "thread": f"the script could not start a thread: it reached {pids}, or had no memory left for "
                      "the thread's stack"}


def cut(text, limit, keep_end=False):
    """text within `limit` UTF-8 bytes, marked where cut (a traceback keeps its end, where the error is)."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    marker = f" … (cut, {len(data)} bytes) "
    room = max(limit - len(marker.encode()), 0)
    if keep_end:
        return marker.lstrip() + data[len(data) - room:].decode("utf-8", "ignore")
    return data[:room].decode("utf-8", "ignore") + marker.rstrip()


def error(type_, message, line=None, traceback=None, suggestions=(), available=()):
    return {"type": type_, "message": cut(message, MESSAGE_LIMIT), "line": line,
            "traceback": None if traceback is None else cut(traceback, TRACEBACK_LIMIT, keep_end=True),
            "suggestions": list(suggestions), "availableFunctions": list(available)}


SURROGATE = re.compile("[\ud800-\udfff]")


def _unicode(text, path):
    """Raises TypeError when text holds a lone surrogate (a str can; Unicode text cannot): the apiserver would
    store U+FFFD in its place, and the run would report another value than the one returned."""
    lone = SURROGATE.search(text)
    if lone:
        raise TypeError(f"{path} holds a lone UTF-16 surrogate (U+{ord(lone.group()):04X}), which is no Unicode "
                        "text and which Kubernetes would store as U+FFFD; return the text without it, or its bytes")


def strict_json(value, path="result", room=MAX_DEPTH):
    """Raises TypeError unless value is plain JSON (no sets, NaN, objects, integers JSON's readers would round)
    nested at most `room` levels deep (TooDeep, looking no deeper: so it never runs out of stack)."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        _unicode(value, path)
        return
    if isinstance(value, int):
        if not -MAX_EXACT_INT <= value <= MAX_EXACT_INT:
            raise TypeError(f"{path} is an integer beyond ±{MAX_EXACT_INT} (2**53 - 1), which JSON's readers "
                            f"(the controller, the API, JavaScript) would round; return it as a string (str(n)) instead")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"{path} is {value}, which JSON cannot carry")
        return
    if isinstance(value, (list, tuple, dict)) and room == 0:
        raise TooDeep()
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            strict_json(item, f"{path}[{i}]", room - 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path} has the non-string key {key!r}")
            _unicode(key, f"a key of {path}")
            strict_json(item, f"{path}[{key!r}]", room - 1)
        return
    raise TypeError(f"{path} is a {type(value).__name__}, which JSON cannot carry")


def nested_past(value, room=MAX_DEPTH):
    """Whether value, a parsed JSON value, nests lists and dicts more than `room` levels deep
    (looking no deeper)."""
    if not isinstance(value, (list, dict)):
        return False
    if room == 0:
        return True
    return any(nested_past(item, room - 1) for item in (value.values() if isinstance(value, dict) else value))


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


def loads(data):
    """Strict JSON: no NaN or Infinity, which json.loads would otherwise accept."""
    return json.loads(data, parse_constant=_no_constants)


def to_json(value):
    """value as the JSON a ScriptRun's status stores it in, as UTF-8 bytes: compact, and text as itself, not
    \\u-escaped ("é" is 2 bytes, not 6). How a result is measured against the output limit, and how it travels
    from the script to the envelope, so that every step sees the same size. A lone surrogate, which a Python str
    can hold and UTF-8 cannot, is written as its JSON escape (\\udcff): it reads back as the same str."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8", "backslashreplace")


def _text(value, optional=False):
    if (value is None and optional) or isinstance(value, str):
        return value
    raise Tampered("a text field is not text")


def accept(data, limits):
    """The outcome in `data`, all the script wrote on its message pipe, for a run of `limits`; raises
    Tampered unless it is exactly one well-formed message within the script's own say. A result past
    the output limit becomes output_limit here: that limit is the harness's, not the script's."""
    output_limit = limits["output"]
    lines = data.count(b"\n")
    if lines != 1 or not data.endswith(b"\n"):
        raise Tampered(f"{lines or 'no'} messages instead of one")
    try:
        message = loads(data)
    except (ValueError, RecursionError):
        raise Tampered("a message that is not strict JSON") from None
    if not isinstance(message, dict) or not set(message) <= {"ok", "result", "exitCode", "error", "resultBytes"}:
        raise Tampered("a message of another shape")
    ok, code, err = message.get("ok"), message.get("exitCode"), message.get("error")
    if type(ok) is not bool or type(code) is not int or not 0 <= code <= 255 or (ok and (err is not None or code)):
        raise Tampered("a message with an impossible status")
    if not ok:
        if not isinstance(err, dict) or err.get("type") not in SCRIPT_ERRORS:
            raise Tampered("an error the script cannot cause itself")
        line = err.get("line")
        if line is not None and (type(line) is not int or not 0 < line < 2**31):
            raise Tampered("an error on an impossible line")
        text, kind = _text(err.get("message")), err["type"]
        # These read like the harness's own verdicts: only the texts the harness writes pass.
        if kind == "memory_limit" and text not in MEMORY_MESSAGES:
            raise Tampered("a memory_limit the harness did not write")
        if kind == "resource_limit" and text not in resource_messages(limits).values():
            raise Tampered("a resource_limit the harness did not write")
        if kind == "disallowed_import" and not text.startswith("ImportError: disallowed import: "):
            raise Tampered("a disallowed_import the harness did not write")
        code = 1 if kind in ("memory_limit", "disallowed_import", "resource_limit") else code
        # The functions a run that missed its entrypoint did define: names, a few of them.
        named = err.get("availableFunctions") if kind == "missing_entrypoint" else None
        available = [name for name in named[:MAX_NAMED] if isinstance(name, str)] if isinstance(named, list) else []
        return failure(error(kind, text, line, _text(err.get("traceback"), True), available=[cut(n, 255) for n in available]), code)
    if "resultBytes" in message:  # the script measured a result too big to send
        size = message["resultBytes"]
        if "result" in message or type(size) is not int or size <= output_limit:
            raise Tampered("an impossible result size")
        return too_big(size, output_limit)
    try:
        strict_json(message.get("result"))
    except TypeError as exc:
        return failure(error("invalid_result", str(exc)))
    size = len(to_json(message.get("result")))
    if size > output_limit:
        return too_big(size, output_limit)
    return {"ok": True, "result": message.get("result"), "exitCode": 0, "error": None}


def failure(err, code=1):
    return {"ok": False, "result": None, "exitCode": code, "error": err}


def too_big(size, output_limit):
    """output_limit for a result of `size` bytes (None: more than it, when not all of it was read)."""
    said = "larger than" if size is None else f"{readable(size)}, more than"
    return failure(error("output_limit", f"the result is {said} the {readable(output_limit)} output limit "
                                         "(limits.outputBytes)"))

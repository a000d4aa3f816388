"""The warm runner's protocol (runner.py --warm): the bounds its sandbox is started for, and the one
request it then waits for on stdin.

A warm pod is started before its run. Its runner starts the sandbox at once (inner.py up as pid 1,
blocked reading its job) for the bounds in SCRIPTRUN_WARM_LIMITS, prints nothing, and reads stdin,
which the controller attaches to, up to the first newline. That line is the frame:

    <SHA-256 of the JSON, in hex> <the request's JSON>\\n

A frame read whole, with the right checksum, is run in the waiting sandbox as a cold run would run
it, and answered the same way (the envelope as one line on stdout, after the frames of live output
when --live-output is given, and the termination message).
Anything else (stdin ending before a newline, or a checksum that does not match) is never run: the
runner kills the sandbox, answers {"unrun": true, "reason": ...} on both and exits 0, and the
controller starts the run again elsewhere."""
import json
import os

import sandbox
from preflight import Refused

BOUNDS_VARIABLE = "SCRIPTRUN_WARM_LIMITS"
BOUNDS_KEYS = ("memory", "pids", "timeoutSeconds", "outputBytes")
CHUNK = 65536


class Unrun(Exception):
    """The request did not arrive whole; the message says how."""


def bounds_of(text):
    """The limits (as sandbox.limits_of gives them) a warm sandbox is started for, from the JSON object
    {"memory", "pids", "timeoutSeconds", "outputBytes"}: the pod's memory, exactly, and the most a
    request may ask of the others. A runner started without them exits before starting anything."""
    problem = "it is not set"
    try:
        given = json.loads(text) if text is not None else {}
        bounds = sandbox.limits_of({"timeoutSeconds": given["timeoutSeconds"],
                                    "resources": {"memory": given["memory"]},
                                    "limits": {"pids": given["pids"], "outputBytes": given["outputBytes"]}})
        if min(bounds.values()) > 0:
            return bounds
        problem = "every limit must be positive"
    except KeyError as exc:
        problem = problem if text is None else f"{exc} is missing"
    except (TypeError, ValueError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
    raise SystemExit(f"runner.py --warm: {BOUNDS_VARIABLE} must be a JSON object of {', '.join(BOUNDS_KEYS)} "
                     f"({problem})")


def read_request(fd):
    """The request's JSON bytes from the one frame read on `fd`; raises Unrun when the stream ends
    before a whole line or the line's checksum does not match. Nothing after the newline is read."""
    line = bytearray()
    while True:
        chunk = os.read(fd, CHUNK)
        if not chunk:
            if not line:
                raise Unrun("no request arrived")
            raise Unrun(f"the request was incomplete: {len(line)} bytes without an end of frame")
        end = chunk.find(b"\n")
        line += chunk if end < 0 else chunk[:end]
        if end >= 0:
            break
    digest, _, body = bytes(line).partition(b" ")
    import hashlib  # here, not at the top: it loads OpenSSL, some 5 ms of every cold pod's CPU that never needs it

    if hashlib.sha256(body).hexdigest().encode() != digest.lower():
        raise Unrun("the request's checksum did not match")
    return body


def within(limits, bounds):
    """Refuses a request that needs other limits than its sandbox was started for: another memory,
    or more time, processes or output than the bounds (a cold sandbox's bounds are its request's)."""
    wanted = []
    if limits["memory"] != bounds["memory"]:
        wanted.append(f"memory {limits['memory']} bytes, not {bounds['memory']}")
    for key, name in (("wall", "timeoutSeconds"), ("pids", "pids"), ("output", "outputBytes")):
        if limits[key] > bounds[key]:
            wanted.append(f"{name} {limits[key]:.12g}, at most {bounds[key]:.12g}")
    if wanted:
        raise Refused("infrastructure_error", f"the warm pod was started for other limits than the request's "
                                              f"({'; '.join(wanted)})")

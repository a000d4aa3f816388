"""The outer harness's exchange with a running sandbox: the job and the script's stdin written in, its
stdout, stderr and report read out, all without blocking, within the wall clock and the size caps;
then the envelope made of what was read (the report judged by verdict.py)."""
import os
import selectors
import signal
import time

from outcome import MESSAGE_ALLOWANCE, error, readable
from verdict import Malformed, judge

REPORT_ALLOWANCE = MESSAGE_ALLOWANCE + 4096  # the report line beyond its result
CHUNK = 65536


def kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole session: no grandchild survives
    except ProcessLookupError:
        pass


def _feed(sel, key):
    """Writes what the pipe takes now of what is left for it, without blocking."""
    try:
        sent = os.write(key.fd, key.data[:CHUNK])
    except BlockingIOError:
        return
    except BrokenPipeError:  # the sandbox stopped reading: the rest is not wanted
        sent = len(key.data)
    if sent == len(key.data):
        sel.unregister(key.fd)
        os.close(key.fd)
    else:
        sel.modify(key.fd, selectors.EVENT_WRITE, key.data[sent:])


def pump(proc, report, feeds, limits, deadline, frames=None):
    """Feeds the request and stdin and reads stdout, stderr and the report, all within the wall
    clock, until the sandbox closes them, time runs out, or a stream passes its cap. `frames`
    (live.Frames) is told each piece of stdout and stderr kept, as it is read."""
    out = {"stdout": bytearray(), "stderr": bytearray(), "report": bytearray()}
    caps = {"stdout": limits["output"], "stderr": limits["output"], "report": limits["output"] + REPORT_ALLOWANCE}
    cut = {"stdout": False, "stderr": False}
    sel = selectors.DefaultSelector()
    for name, fd in (("stdout", proc.stdout.fileno()), ("stderr", proc.stderr.fileno()), ("report", report)):
        sel.register(fd, selectors.EVENT_READ, name)
    for fd, data in feeds:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_WRITE, memoryview(data))
    reading, stop = 3, None
    # Anything but every stream closed (a timeout, a cap, an exception here) ends the sandbox:
    # proc.wait() below must not wait on a sandbox that is still running.
    try:
        while reading and stop is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                stop = "timeout"
                break
            for key, _ in sel.select(min(remaining, 0.5)):
                if key.events == selectors.EVENT_WRITE:
                    _feed(sel, key)
                    continue
                chunk = os.read(key.fd, CHUNK)
                if not chunk:
                    sel.unregister(key.fd)
                    reading -= 1
                    continue
                buf = out[key.data]
                offset = len(buf)
                buf += chunk
                if len(buf) > caps[key.data]:
                    stop = "report_limit" if key.data == "report" else "output_limit"
                    if key.data in cut:
                        del buf[caps[key.data]:]
                        cut[key.data] = True
                if frames and key.data in cut:
                    frames.chunk(key.data, offset, bytes(buf[offset:]), cut=cut[key.data])
    finally:
        for key in list(sel.get_map().values()):
            if key.events == selectors.EVENT_WRITE:
                os.close(key.fd)
        sel.close()
        if stop or reading:
            kill(proc)
        proc.wait()  # its status is judged: the sandbox is killed only when it has not ended of itself
    return out, cut, stop


def envelope_of(out, cut, stop, returncode, limits, oom_killed):
    """The envelope of a run from what pump() read (`out`, what it `cut`, why it `stop`ped), the sandbox's
    exit status and the OOM verdict; the caller adds durationMs and sandbox."""
    text = {k: out[k].decode("utf-8", errors="replace") for k in ("stdout", "stderr")}
    envelope = {"success": False, "result": None, "stdout": text["stdout"], "stderr": text["stderr"],
                "stdoutTruncated": cut["stdout"], "stderrTruncated": cut["stderr"], "error": None, "exitCode": None}
    if stop == "timeout":
        envelope["error"] = error("timeout", f"the script ran past its {limits['wall']:g} s limit")
    elif stop == "output_limit":
        envelope["error"] = error("output_limit", f"the script printed more than its {readable(limits['output'])} "
                                                  "output limit (limits.outputBytes)")
    elif stop == "report_limit":
        envelope["error"] = error("infrastructure_error", "the sandbox's report passed its size limit")
    elif not out["report"]:
        envelope["error"] = error("infrastructure_error", f"the sandbox did not start: {text['stderr'].strip()[-500:]}")
        envelope["stderr"] = ""
    else:
        try:
            success, result, err, code = judge(bytes(out["report"]), returncode, limits, oom_killed)
            envelope.update(success=success, result=result, error=err, exitCode=code)
        except Malformed as exc:
            envelope["error"] = error("infrastructure_error", str(exc))
    if envelope["exitCode"] is None:
        envelope["exitCode"] = returncode if returncode >= 0 else 128 - returncode
    return envelope

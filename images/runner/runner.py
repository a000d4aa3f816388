#!/usr/bin/env python3
"""The runner harness: one request in, one envelope out.

    python3 runner.py < request.json
    python3 runner.py --request FILE --termination-log PATH   (in the runner pod)
    python3 runner.py --preflight < request.json
    python3 runner.py --preflight-server                       (JSON lines in and out)
    python3 runner.py --warm --termination-log PATH            (a warm pod: see warm.py)

This outer process owns the envelope and the termination message. The user's
code runs in a child of inner.py, the sandbox's pid 1, which sends one report
on a private pipe the user's code never holds; stdout and stderr are pipes
read here, so printing cannot forge it. Everything read from the sandbox is
bounded and checked: whatever happens, exactly one JSON envelope is printed.
"""
import argparse
import functools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

import live
import pump
import sandbox
import warm
from cgroups import RunCgroup, oom_kills
from outcome import error, to_json
from preflight import Refused, preflight

TERMINATION_LIMIT = 4096
# The longest envelope line: the controller reads a runner's log up to SCRIPTRUN_MAX_LOG_BYTES
# (8 MiB by default, never less than this; core/liveOutput.ts ENVELOPE_BYTES) past the live frames,
# and a ScriptRun keeps some 1.5 MiB of outcome. Each stream's output, to its cap, can take six
# times its bytes in JSON (a control character; the line is UTF-8, as outcome.to_json writes it): past
# this line they are cut.
ENVELOPE_BYTES = 4 * 1024 * 1024
PREFLIGHT_MEMORY = 1 << 30  # address space of the preflight server: hostile source cannot exhaust its host


class Sandbox:
    """A started sandbox: inner.py its pid 1, blocked reading its job on `job`, for `limits` (the
    most a request run in it may ask; its memory exactly). One request a sandbox, then close()."""

    def __init__(self, backend, limits, proc, cgroup, job, report, stdin, started):
        self.backend, self.limits, self.proc, self.cgroup = backend, limits, proc, cgroup
        self.started = started  # when its process was started: a cold run is timed from there
        self.job, self.report, self.stdin = job, report, stdin
        self.held = {job, report, stdin}  # the fds not yet handed to a run

    def kill(self):
        """Kills every process of the sandbox; waits for nothing, so a signal handler may call it."""
        if self.proc.returncode is None:
            pump.kill(self.proc)
        self.cgroup.destroy()  # whatever escaped the session kill (a fork bomb's children) ends here

    def close(self):
        """Ends the sandbox and lets go of what it held; once is enough, more is harmless."""
        self.kill()
        self.proc.wait()
        for fd in self.held:
            os.close(fd)
        self.held = set()
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()


def start_sandbox(bounds, waits=False):
    """Starts a sandbox for `bounds` (sandbox.limits_of a request): inner.py its pid 1, its interpreter
    up and blocked reading its job. Cold, the request's own limits; warm (`waits`: for a request yet to
    come), the pod's, so nsjail gets no lifetime of its own: each run's wall clock is the outer deadline."""
    name = sandbox.backend()
    (req_r, req_w), (rep_r, rep_w), (in_r, in_w) = os.pipe(), os.pipe(), os.pipe()
    fds = (req_r, rep_w)
    if name == "nsjail":
        cmd = sandbox.nsjail_command(bounds, fds, lifetime=0 if waits else None)
    else:
        cmd = sandbox.sized_tmpfs(sandbox.bwrap_command(sandbox.inner_argv(fds), with_proc=_proc_mountable()),
                                  bounds["memory"])

    # Both backends: nsjail's own --cgroup_* flags need a parent cgroup it may write, as this does.
    cgroup = RunCgroup(f"run-{os.getpid()}", bounds["memory"], bounds["pids"])

    def in_child():
        cgroup.join()
        for res, value in sandbox.rlimits(bounds):
            resource.setrlimit(getattr(resource, res), (value, value))

    started = time.monotonic()
    try:
        # The sandbox's stdin is a pipe of its own (fed with the request's stdin), never this process's.
        # Its program is found on this process's PATH, as backend() found it: the empty environment's
        # default path has no /usr/local/bin, where the production image installs nsjail.
        proc = subprocess.Popen(cmd, executable=shutil.which(cmd[0]), stdin=in_r, stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=fds,
                                preexec_fn=in_child, start_new_session=True, env={})
    except BaseException:
        for fd in (req_w, rep_r, in_w):
            os.close(fd)
        cgroup.destroy()
        raise
    finally:
        for fd in (req_r, rep_w, in_r):
            os.close(fd)
    return Sandbox(name, bounds, proc, cgroup, req_w, rep_r, in_w, started)


def run_in(handle, request, started, frames=None):
    """Runs `request` (preflighted) in the started sandbox `handle`, timed from `started`, with the
    limits a cold run of it has; returns its envelope. The sandbox ends with the run. `frames`: where
    the output goes live (--live-output)."""
    limits = sandbox.limits_of(request)
    try:
        warm.within(limits, handle.limits)
        handle.cgroup.limit_pids(limits["pids"])
        ooms_before = oom_kills(handle.cgroup)
        feeds = [(handle.job, json.dumps({"request": request, "limits": limits}).encode()),
                 (handle.stdin, request["stdin"].encode("utf-8", "replace"))]
        handle.held -= {handle.job, handle.stdin}  # pump() closes them
        out, cut, stop = pump.pump(handle.proc, handle.report, feeds, limits, started + limits["wall"], frames)
        ooms_after = oom_kills(handle.cgroup)
    finally:
        handle.close()
    oom_killed = None if ooms_before is None or ooms_after is None else ooms_after > ooms_before
    envelope = pump.envelope_of(out, cut, stop, handle.proc.returncode, limits, oom_killed)
    envelope["durationMs"] = round((time.monotonic() - started) * 1000, 1)
    memory = "cgroup" if handle.cgroup.memory else "rlimit"
    envelope["sandbox"] = {"backend": handle.backend, "memory": memory}
    return envelope


_PROC_OK = None


def _proc_mountable():
    """Whether bubblewrap may mount a fresh /proc here (not in most pods); asked once."""
    global _PROC_OK
    if _PROC_OK is None:
        probe = sandbox.bwrap_command(["/bin/true"], with_proc=True)
        _PROC_OK = subprocess.run(probe, stdin=subprocess.DEVNULL, capture_output=True,
                                  check=False).returncode == 0
    return _PROC_OK


def _failed(err):
    return {"success": False, "result": None, "stdout": "", "stderr": "", "stdoutTruncated": False,
            "stderrTruncated": False, "error": err, "exitCode": None, "durationMs": 0, "sandbox": None}


def _harness_failed(exc):
    return _failed(error("infrastructure_error", f"the harness failed: {type(exc).__name__}: {exc}"))


def run_request(raw, handle=None, arrived=None, frames=None):
    """The envelope of a request (an object, or its JSON text): run in `handle`, a sandbox started before
    the request `arrived` (warm; or what starting it raised), else in one started for it now (cold)."""
    try:
        request = preflight(parse_request(raw) if isinstance(raw, (str, bytes)) else raw)
        if handle is None:
            handle = start_sandbox(sandbox.limits_of(request))
            arrived = handle.started
        if isinstance(handle, Exception):
            raise handle
        return run_in(handle, request, arrived, frames)
    except Refused as refused:
        return _failed(refused.error)
    except Exception as exc:  # whatever went wrong here, the caller still gets an envelope
        return _harness_failed(exc)
    finally:
        if isinstance(handle, Sandbox):
            handle.close()  # a request refused before its run leaves no sandbox behind either


def dumps(envelope):
    """One line of strict JSON, UTF-8 as the result was measured (outcome.to_json: a lone surrogate in a
    result or output cannot break it), within ENVELOPE_BYTES bytes: stdout and stderr cut to fit (marked
    truncated), each to half of what is left unless the other needs less; a result that leaves no room is
    output_limit."""
    try:
        full = to_json(envelope)
        if len(full) <= ENVELOPE_BYTES or not isinstance(envelope.get("stdout"), str):
            return full.decode()
        streams = ("stdout", "stderr")
        # Measured with both flags false, the longer spelling: whichever each ends as, the line fits.
        room = ENVELOPE_BYTES - len(to_json({**envelope, "stdout": "", "stderr": "", "stdoutTruncated": False,
                                             "stderrTruncated": False}))
        if room < 0:
            return dumps({**_failed(error("output_limit", "the result and the error are larger than an outcome can "
                                                          f"carry ({ENVELOPE_BYTES >> 20} MiB)")),
                          "durationMs": envelope.get("durationMs", 0), "sandbox": envelope.get("sandbox")})
        needs = {name: len(to_json(envelope[name])) - 2 for name in streams}
        shares = {name: max(room // 2, room - needs[other]) for name, other in zip(streams, reversed(streams))}
        fitted = dict(envelope)
        for name in streams:
            if needs[name] > shares[name]:
                fitted[name] = _cut_to(envelope[name], shares[name])
                fitted[f"{name}Truncated"] = True
        return to_json(fitted).decode()
    except (TypeError, ValueError, RecursionError) as exc:
        return json.dumps(_failed(error("infrastructure_error", f"the envelope is not JSON: {exc}")))


def _cut_to(text, room):
    """The longest start of `text` whose JSON string (quotes left out) takes at most `room` bytes."""
    low, high = 0, min(len(text), room)
    while low < high:
        mid = (low + high + 1) // 2
        if len(to_json(text[:mid])) - 2 <= room:
            low = mid
        else:
            high = mid - 1
    return text[:low]


def termination_message(envelope, line):
    """The envelope's `line` (dumps) when it fits in 4 KiB, else a marker that sends the controller to
    the log."""
    if len(line.encode()) <= TERMINATION_LIMIT:
        return line
    err = envelope.get("error") or {}
    return json.dumps({"truncated": True, "success": envelope["success"], "exitCode": envelope["exitCode"],
                       "errorType": err.get("type"), "durationMs": envelope["durationMs"]})


def parse_request(text):
    try:
        return json.loads(text)
    except ValueError as exc:  # not JSON, or (bytes) not UTF-8
        raise Refused("invalid_input", f"the request is not JSON: {exc}") from None
    except (RecursionError, MemoryError):
        raise Refused("invalid_input", "the request is nested too deeply or too large") from None


def preflight_answer(text):
    """The answer to one request (its JSON text or bytes), whatever it holds: never an exception, which
    would end the preflight server and fail every check waiting on it."""
    try:
        preflight(parse_request(text))
        return {"ok": True}
    except Refused as refused:
        return {"ok": False, "error": refused.error}
    except Exception as exc:  # a request the checks did not foresee is refused, alone
        return {"ok": False, "error": error("invalid_input", "the harness cannot check this request: "
                                                             f"{type(exc).__name__}: {exc}")}


def deliver(answer, termination_log):
    """The answer (an envelope, or a warm runner's "unrun") as the last line on stdout, after any
    frames of live output, and, when a path is given, as the termination message."""
    line = dumps(answer)
    sys.stdout.buffer.write(line.encode() + b"\n")  # UTF-8, whatever the locale says
    sys.stdout.buffer.flush()
    if termination_log:
        with open(termination_log, "w", encoding="utf-8") as f:
            f.write(termination_message(answer, line))


def _terminated(handle, waiting, termination_log, signum, _frame):
    """SIGTERM to a warm runner (its pool scaled down, its pod deleted, its deadline passed): the
    sandbox and this process end at once, and nothing is printed. Stopped before a request came,
    it says in its termination message that it ran nothing, so that a run whose request never
    reached it (a claim whose attach never connected) is started again, not failed."""
    if isinstance(handle, Sandbox):
        handle.kill()
    if waiting["request"] and termination_log:
        with open(termination_log, "w", encoding="utf-8") as f:
            unrun = {"unrun": True, "reason": "stopped before a request arrived"}
            f.write(termination_message(unrun, dumps(unrun)))
    os._exit(128 + signum)


def serve_warm(termination_log, frames=None):
    """--warm (see warm.py): the sandbox started for the pod's bounds first, then one framed request
    read from stdin and run in it; a request that did not arrive whole is never run."""
    bounds = warm.bounds_of(os.environ.get(warm.BOUNDS_VARIABLE))
    try:
        handle = start_sandbox(bounds, waits=True)
    except Exception as exc:  # said in the envelope once a request comes, as a cold run would say it
        handle = exc
    waiting = {"request": True}
    signal.signal(signal.SIGTERM, functools.partial(_terminated, handle, waiting, termination_log))
    try:
        text, arrived = warm.read_request(sys.stdin.fileno()), time.monotonic()
        waiting["request"] = False
    except warm.Unrun as unrun:
        if isinstance(handle, Sandbox):
            handle.close()
        deliver({"unrun": True, "reason": str(unrun)}, termination_log)
        return
    deliver(run_request(text, handle, arrived, frames), termination_log)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--request", help="read the request from this file instead of stdin")
    parser.add_argument("--termination-log", help="also write the termination message here")
    parser.add_argument("--preflight", action="store_true", help="check the request without running it")
    parser.add_argument("--preflight-server", action="store_true", help="check one request per stdin line")
    parser.add_argument("--warm", action="store_true",
                        help=f"start the sandbox for the bounds in {warm.BOUNDS_VARIABLE}, then run one framed "
                             "request from stdin")
    parser.add_argument("--live-output", action="store_true",
                        help="also frame the script's output on stdout as it comes, ahead of the envelope (live.py)")
    args = parser.parse_args()
    frames = live.Frames(sys.stdout.buffer) if args.live_output else None
    if args.preflight_server:
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        limit = PREFLIGHT_MEMORY if hard == resource.RLIM_INFINITY else min(hard, PREFLIGHT_MEMORY)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        for line in sys.stdin.buffer:  # bytes: a line that is not UTF-8 is an answer too (invalid_input)
            sys.stdout.write(json.dumps(preflight_answer(line)) + "\n")
            sys.stdout.flush()
        return
    if args.preflight:
        print(json.dumps(preflight_answer(sys.stdin.buffer.read())))
        return
    if args.warm:
        serve_warm(args.termination_log, frames)
        return
    try:
        with open(args.request, encoding="utf-8") if args.request else sys.stdin as source:
            text = source.read()
    except Exception as exc:
        envelope = _harness_failed(exc)
    else:
        envelope = run_request(text, frames=frames)
    deliver(envelope, args.termination_log)


if __name__ == "__main__":
    main()

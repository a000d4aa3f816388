#!/usr/bin/env python3
"""The runner harness: one request in, one envelope out.

    python3 runner.py < request.json
    python3 runner.py --request FILE --termination-log PATH   (in the runner pod)
    python3 runner.py --preflight < request.json
    python3 runner.py --preflight-server                       (JSON lines in and out)

This outer process owns the envelope and the termination message. The user's
code runs in a child of inner.py, the sandbox's pid 1, which sends one report
on a private pipe the user's code never holds; stdout and stderr are pipes
read here, so printing cannot forge it. Everything read from the sandbox is
bounded and checked: whatever happens, exactly one JSON envelope is printed.
"""
import argparse
import json
import os
import resource
import selectors
import signal
import subprocess
import sys
import time

import sandbox
from cgroups import RunCgroup, oom_kills
from outcome import MESSAGE_ALLOWANCE, error
from preflight import Refused, preflight
from verdict import Malformed, judge

TERMINATION_LIMIT = 4096
REPORT_ALLOWANCE = MESSAGE_ALLOWANCE + 4096  # the report line beyond its result
PREFLIGHT_MEMORY = 1 << 30  # address space of the preflight server: hostile source cannot exhaust its host
CHUNK = 65536


def _kill(proc):
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


def _pump(proc, report, feeds, limits, deadline):
    """Feeds the request and stdin and reads stdout, stderr and the report, all within the wall
    clock, until the sandbox closes them, time runs out, or a stream passes its cap."""
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
                buf += chunk
                if len(buf) > caps[key.data]:
                    stop = "report_limit" if key.data == "report" else "output_limit"
                    if key.data in cut:
                        del buf[caps[key.data]:]
                        cut[key.data] = True
    finally:
        for key in list(sel.get_map().values()):
            if key.events == selectors.EVENT_WRITE:
                os.close(key.fd)
        sel.close()
        if stop or reading:
            _kill(proc)
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            stream.close()
    return out, cut, stop


def execute(request):
    limits = sandbox.limits_of(request)
    name = sandbox.backend()
    (req_r, req_w), (rep_r, rep_w), (in_r, in_w) = os.pipe(), os.pipe(), os.pipe()
    fds = (req_r, rep_w)
    if name == "nsjail":
        cmd = sandbox.nsjail_command(limits, fds)
    else:
        cmd = sandbox.bwrap_command(sandbox.inner_argv(fds), with_proc=_proc_mountable())

    cgroup = RunCgroup(f"run-{os.getpid()}", limits["memory"], limits["pids"]) if name == "bubblewrap" else None

    def in_child():
        if cgroup:
            cgroup.join()
        for res, value in sandbox.rlimits(limits):
            resource.setrlimit(getattr(resource, res), (value, value))

    started = time.monotonic()
    ooms_before = oom_kills(cgroup)
    try:
        try:
            proc = subprocess.Popen(cmd, stdin=in_r, stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=fds,
                                    preexec_fn=in_child, start_new_session=True, env={})
        except BaseException:
            for fd in (req_w, rep_r, in_w):
                os.close(fd)
            raise
        finally:
            for fd in (req_r, rep_w, in_r):
                os.close(fd)
        feeds = [(req_w, json.dumps({"request": request, "limits": limits}).encode()),
                 (in_w, request["stdin"].encode("utf-8", "replace"))]
        try:
            out, cut, stop = _pump(proc, rep_r, feeds, limits, started + limits["wall"])
        finally:
            os.close(rep_r)
        ooms_after = oom_kills(cgroup)
    finally:
        if cgroup:
            cgroup.destroy()  # whatever escaped the session kill (a fork bomb's children) ends here
    oom_killed = None if ooms_before is None or ooms_after is None else ooms_after > ooms_before
    envelope = _envelope(out, cut, stop, proc.returncode, limits, oom_killed)
    envelope["durationMs"] = round((time.monotonic() - started) * 1000, 1)
    memory = "cgroup" if name == "nsjail" or (cgroup and cgroup.memory) else "rlimit"
    envelope["sandbox"] = {"backend": name, "memory": memory}
    return envelope


def _envelope(out, cut, stop, returncode, limits, oom_killed):
    text = {k: out[k].decode("utf-8", errors="replace") for k in ("stdout", "stderr")}
    envelope = {"success": False, "result": None, "stdout": text["stdout"], "stderr": text["stderr"],
                "stdoutTruncated": cut["stdout"], "stderrTruncated": cut["stderr"], "error": None, "exitCode": None}
    if stop == "timeout":
        envelope["error"] = error("timeout", f"the script ran past its {limits['wall']:g} s limit")
    elif stop == "output_limit":
        envelope["error"] = error("output_limit", f"the script printed more than {limits['output']} bytes")
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


_PROC_OK = None


def _proc_mountable():
    """Whether bubblewrap may mount a fresh /proc here (not in most pods); asked once."""
    global _PROC_OK
    if _PROC_OK is None:
        probe = sandbox.bwrap_command(["/bin/true"], with_proc=True)
        _PROC_OK = subprocess.run(probe, capture_output=True, check=False).returncode == 0
    return _PROC_OK


def _failed(err):
    return {"success": False, "result": None, "stdout": "", "stderr": "", "stdoutTruncated": False,
            "stderrTruncated": False, "error": err, "exitCode": None, "durationMs": 0, "sandbox": None}


def run_request(raw):
    try:
        request = preflight(raw)
    except Refused as refused:
        return _failed(refused.error)
    try:
        return execute(request)
    except Exception as exc:  # whatever went wrong here, the caller still gets an envelope
        return _failed(error("infrastructure_error", f"the harness failed: {type(exc).__name__}: {exc}"))


def dumps(envelope):
    """One line of strict, ASCII JSON (a lone surrogate in a result or output cannot break it)."""
    try:
        return json.dumps(envelope, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        return json.dumps(_failed(error("infrastructure_error", f"the envelope is not JSON: {exc}")))


def termination_message(envelope):
    """The envelope when it fits in 4 KiB, else a marker that sends the controller to the log."""
    full = dumps(envelope)
    if len(full.encode()) <= TERMINATION_LIMIT:
        return full
    err = envelope.get("error") or {}
    return json.dumps({"truncated": True, "success": envelope["success"], "exitCode": envelope["exitCode"],
                       "errorType": err.get("type"), "durationMs": envelope["durationMs"]})


def parse_request(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Refused("invalid_input", f"the request is not JSON: {exc}") from None
    except (RecursionError, MemoryError):
        raise Refused("invalid_input", "the request is nested too deeply or too large") from None


def preflight_answer(text):
    try:
        preflight(parse_request(text))
        return {"ok": True}
    except Refused as refused:
        return {"ok": False, "error": refused.error}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--request", help="read the request from this file instead of stdin")
    parser.add_argument("--termination-log", help="also write the termination message here")
    parser.add_argument("--preflight", action="store_true", help="check the request without running it")
    parser.add_argument("--preflight-server", action="store_true", help="check one request per stdin line")
    args = parser.parse_args()
    if args.preflight_server:
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        limit = PREFLIGHT_MEMORY if hard == resource.RLIM_INFINITY else min(hard, PREFLIGHT_MEMORY)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        for line in sys.stdin:
            sys.stdout.write(json.dumps(preflight_answer(line)) + "\n")
            sys.stdout.flush()
        return
    if args.preflight:
        print(json.dumps(preflight_answer(sys.stdin.read())))
        return
    try:
        with open(args.request, encoding="utf-8") if args.request else sys.stdin as source:
            envelope = run_request(parse_request(source.read()))
    except Refused as refused:
        envelope = _failed(refused.error)
    except Exception as exc:
        envelope = _failed(error("infrastructure_error", f"the harness failed: {type(exc).__name__}: {exc}"))
    print(dumps(envelope), flush=True)
    if args.termination_log:
        with open(args.termination_log, "w", encoding="utf-8") as f:
            f.write(termination_message(envelope))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The runner harness: one request in, one envelope out.

    python3 runner.py < request.json
    python3 runner.py --request FILE --termination-log PATH   (in the runner pod)
    python3 runner.py --preflight < request.json
    python3 runner.py --preflight-server                       (JSON lines in and out)

This outer process owns the envelope and the termination message. The user's
code runs in inner.py inside the sandbox; its stdout and stderr are pipes read
here, and its result comes back on a private pipe, so printing cannot forge it.
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
from cgroups import RunCgroup
from preflight import Refused, preflight

TERMINATION_LIMIT = 4096


def error(type_, message):
    return {"type": type_, "message": message, "line": None, "traceback": None,
            "suggestions": [], "availableFunctions": []}


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole session: no grandchild survives
    except ProcessLookupError:
        pass


def _pump(proc, stdin_data, limits, deadline):
    """Feeds stdin and reads stdout, stderr and the report until the sandbox ends,
    the wall clock runs out, or a stream passes the output cap."""
    out = {"stdout": bytearray(), "stderr": bytearray(), "report": bytearray()}
    cut = {"stdout": False, "stderr": False}
    sel = selectors.DefaultSelector()
    for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr), ("report", proc.report)):
        sel.register(stream, selectors.EVENT_READ, name)
    stop = None
    try:
        proc.stdin.write(stdin_data.encode())
        proc.stdin.close()
    except BrokenPipeError:
        pass
    while sel.get_map() and stop is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            stop = "timeout"
            break
        for key, _ in sel.select(min(remaining, 0.5)):
            chunk = os.read(key.fileobj.fileno(), 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            buf = out[key.data]
            buf += chunk
            if key.data in cut and len(buf) > limits["output"]:
                del buf[limits["output"]:]
                cut[key.data] = True
                stop = "output_limit"
    if stop:
        _kill(proc)
    proc.wait()
    return out, cut, stop


def execute(request):
    limits = sandbox.limits_of(request)
    name = sandbox.backend()
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
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
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                pass_fds=fds, preexec_fn=in_child, start_new_session=True, env={})
        for fd in fds:
            os.close(fd)
        with os.fdopen(req_w, "w") as channel:
            json.dump(request, channel)
        proc.report = os.fdopen(rep_r, "rb")
        out, cut, stop = _pump(proc, request["stdin"], limits, started + limits["wall"])
    finally:
        if cgroup:
            cgroup.destroy()  # whatever escaped the session kill (a fork bomb's children) ends here
    envelope = _envelope(proc, out, cut, stop, limits)
    envelope["durationMs"] = round((time.monotonic() - started) * 1000, 1)
    memory = "cgroup" if name == "nsjail" or (cgroup and cgroup.memory) else "rlimit"
    envelope["sandbox"] = {"backend": name, "memory": memory}
    return envelope


def _envelope(proc, out, cut, stop, limits):
    text = {k: out[k].decode("utf-8", errors="replace") for k in ("stdout", "stderr")}
    lines = out["report"].decode(errors="replace").splitlines()
    envelope = {"success": False, "result": None, "stdout": text["stdout"], "stderr": text["stderr"],
                "stdoutTruncated": cut["stdout"], "stderrTruncated": cut["stderr"], "error": None, "exitCode": None}
    if stop == "timeout":
        envelope["error"] = error("timeout", f"the script ran past its {limits['wall']:g} s limit")
    elif stop == "output_limit":
        envelope["error"] = error("output_limit", f"the script printed more than {limits['output']} bytes")
    elif not lines:
        envelope["error"] = error("infrastructure_error", f"the sandbox did not start: {text['stderr'].strip()[-500:]}")
        envelope["stderr"] = ""
    elif len(lines) == 1:
        envelope["error"] = _ended_without_report(proc.returncode, limits)
    else:
        # The last line: a script that found the report pipe and wrote to it
        # first is followed by the real report.
        report = json.loads(lines[-1])
        envelope.update(success=report["ok"], result=report.get("result"), exitCode=report["exitCode"],
                        error=report.get("error"))
    if envelope["exitCode"] is None:
        envelope["exitCode"] = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
    return envelope


def _ended_without_report(returncode, limits):
    # bubblewrap reports a signal that killed the sandbox as 128 + signal.
    signum = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    if signum == signal.SIGXCPU:
        return error("timeout", f"the script used up its CPU time ({limits['cpu']} s)")
    if signum == signal.SIGKILL:
        # Not killed by this harness (that is a timeout or output_limit, decided
        # earlier): the kernel's OOM killer, at the pod's or the sandbox's memory cgroup.
        return error("memory_limit", "the script was killed for using too much memory")
    if signum == signal.SIGXFSZ:
        return error("resource_limit", "the script wrote a file past the size limit")
    if signum == signal.SIGSEGV:
        return error("memory_limit", "the script crashed, most likely out of memory")
    return error("runtime_error", f"the script ended without a result (exit status {returncode})")


_PROC_OK = None


def _proc_mountable():
    """Whether bubblewrap may mount a fresh /proc here (not in most pods); asked once."""
    global _PROC_OK
    if _PROC_OK is None:
        probe = sandbox.bwrap_command(["/bin/true"], with_proc=True)
        _PROC_OK = subprocess.run(probe, capture_output=True, check=False).returncode == 0
    return _PROC_OK


def run_request(raw):
    try:
        request = preflight(raw)
    except Refused as refused:
        return {"success": False, "result": None, "stdout": "", "stderr": "", "stdoutTruncated": False,
                "stderrTruncated": False, "error": refused.error, "exitCode": None, "durationMs": 0, "sandbox": None}
    try:
        return execute(request)
    except (OSError, RuntimeError) as exc:
        return {"success": False, "result": None, "stdout": "", "stderr": "", "stdoutTruncated": False,
                "stderrTruncated": False, "error": error("infrastructure_error", str(exc)), "exitCode": None,
                "durationMs": 0, "sandbox": None}


def termination_message(envelope):
    """The envelope when it fits in 4 KiB, else a marker that sends the controller to the log."""
    full = json.dumps(envelope)
    if len(full.encode()) <= TERMINATION_LIMIT:
        return full
    err = envelope.get("error") or {}
    return json.dumps({"truncated": True, "success": envelope["success"], "exitCode": envelope["exitCode"],
                       "errorType": err.get("type"), "durationMs": envelope["durationMs"]})


def preflight_answer(raw):
    try:
        preflight(raw)
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
        for line in sys.stdin:
            try:
                answer = preflight_answer(json.loads(line))
            except json.JSONDecodeError:
                answer = {"ok": False, "error": error("invalid_input", "the request is not JSON")}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
        return
    source = open(args.request, encoding="utf-8") if args.request else sys.stdin
    try:
        raw = json.load(source)
    except json.JSONDecodeError as exc:
        raw = exc
    if args.preflight:
        answer = preflight_answer(raw) if not isinstance(raw, Exception) else {
            "ok": False, "error": error("invalid_input", f"the request is not JSON: {raw}")}
        print(json.dumps(answer))
        return
    envelope = run_request(raw if not isinstance(raw, Exception) else None)
    # ASCII JSON: a lone surrogate in a result or output cannot break the line.
    print(json.dumps(envelope), flush=True)
    if args.termination_log:
        with open(args.termination_log, "w", encoding="utf-8") as f:
            f.write(termination_message(envelope))


if __name__ == "__main__":
    main()

"""The reporter: pid 1 of the sandbox. Reads the request from the fd named by
argv[1], confines itself (seccomp, non-dumpable), forks a child that runs the
user's code (usercode.py), and writes one report line on the fd named by argv[2].

The child never holds the report fd or the request fd, and cannot change this
process's memory (another address space; ptrace and friends are denied and this
process is not dumpable), so the user's code cannot touch the report. It sends
its outcome on a pipe of its own, of which the reporter accepts exactly one
well-formed message within the script's own say (outcome.accept). When this
process exits, the kernel kills everything left in the sandbox's pid namespace.

The report is "started", then one of: {"kind": "outcome", ok, result, exitCode,
error}, {"kind": "ended", status, signal, cpuSeconds} (no message: how the child
ended, which the outer harness judges), {"kind": "refused", message}."""
import json
import os
import resource
import selectors
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the harness's folder off the path
import confine
import outcome
import usercode


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def prepare(limits):
    """Confines this process before the fork; returns why it cannot, or None."""
    if os.getpid() != 1:
        return "the reporter is not the sandbox's pid 1, so processes could outlive the run"
    # Set here, inside the sandbox's own user namespace, RLIMIT_NPROC counts
    # only this run's processes (the kernel keys it by namespace and uid);
    # set outside, it would count every runner pod's uid 65532 on the node.
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["pids"], limits["pids"]))
    # A warm sandbox was started before its request, with the CPU limit of the longest run its pod
    # allows: the script gets its own run's (lowering is always allowed; a cold run's is the same).
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu"], limits["cpu"]))
    try:
        confine.install()
    except confine.Unsupported as exc:
        return str(exc)
    except OSError as exc:  # a kernel without seccomp filters: refuse rather than run unconfined
        return f"the sandbox could not confine the script: {exc}"
    return None


def watch(child, channel, wakeup, cap):
    """Reads the child's messages (at most `cap` bytes) until the child ends, reaping
    every process orphaned into this one on the way; returns (data, status, rusage, over)."""
    data, ended, over = bytearray(), None, False
    selector = selectors.DefaultSelector()
    selector.register(channel, selectors.EVENT_READ)
    selector.register(wakeup, selectors.EVENT_READ)
    while ended is None:
        for key, _ in selector.select():
            if key.fd == wakeup:
                os.read(wakeup, 4096)
            elif not _read(channel, data, cap) or len(data) > cap:
                selector.unregister(channel)  # every writer has gone, or wrote too much
                if len(data) > cap:  # a result this big is output_limit whatever follows: stop it now
                    over = True
                    os.kill(child, signal.SIGKILL)
        ended = _reap(child)
    os.set_blocking(channel, False)  # what a still-running grandchild writes later is not waited for
    while not over and _read(channel, data, cap):
        over = len(data) > cap
    return bytes(data), ended[0], ended[1], over


def _read(fd, data, cap):
    try:
        chunk = os.read(fd, min(65536, cap + 1 - len(data)) or 1)
    except BlockingIOError:
        return False
    data += chunk
    return bool(chunk)


def _reap(child):
    found = None
    while True:
        try:
            pid, status, rusage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return found
        if pid == 0:
            return found
        if pid == child:
            found = (status, rusage)


def verdict(data, status, rusage, over, limits):
    if over:
        return {"kind": "outcome", **outcome.too_big(None, limits["output"])}
    if os.WIFSIGNALED(status) or not data:  # a signal is the harness's to judge, even after a message
        return {"kind": "ended", "status": os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else None,
                "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                "cpuSeconds": rusage.ru_utime + rusage.ru_stime}
    try:
        return {"kind": "outcome", **outcome.accept(data, limits)}
    except outcome.Tampered as why:
        message = f"the script tampered with the harness's result channel ({why})"
        return {"kind": "outcome", **outcome.failure(outcome.error("runtime_error", message))}


def main():
    request_fd, report_fd = int(sys.argv[1]), int(sys.argv[2])
    with os.fdopen(request_fd, "rb") as channel:
        job = json.load(channel)
    request, limits = job["request"], job["limits"]
    os.set_inheritable(report_fd, False)
    write_all(report_fd, b"started\n")
    refusal = prepare(limits)
    if refusal:
        write_all(report_fd, (json.dumps({"kind": "refused", "message": refusal}) + "\n").encode())
        return
    wakeup, alarm = os.pipe()
    os.set_blocking(alarm, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that the wakeup fd hears of each child's end
    signal.set_wakeup_fd(alarm)
    channel, child_end = os.pipe()
    child = os.fork()
    if child == 0:
        signal.set_wakeup_fd(-1)
        for fd in (report_fd, channel, wakeup, alarm):
            os.close(fd)
        usercode.serve(request, limits, child_end)
        usercode.end()  # as any script ends: non-daemon threads joined, atexit run
    os.close(child_end)
    cap = limits["output"] + outcome.MESSAGE_ALLOWANCE
    report = verdict(*watch(child, channel, wakeup, cap), limits)
    write_all(report_fd, outcome.to_json(report) + b"\n")
    os._exit(0)  # at once: the run waits for the sandbox to end, and tearing an interpreter down takes ms


if __name__ == "__main__":
    main()

"""What the sandbox said, judged by the outer harness: the report the reporter
(inner.py) wrote, how the sandbox ended, and the memory cgroup's OOM counter,
turned into the envelope's success, result, error and exit code.

Nothing read from the sandbox is trusted to be well-formed: anything else than
"started" and one report line of the reporter's shape is infrastructure_error."""
import signal

from outcome import SCRIPT_ERRORS, error, loads, readable

# The reporter adds one error of its own to the script's: a result past the output limit.
REPORTED_ERRORS = SCRIPT_ERRORS + ("output_limit",)


class Malformed(ValueError):
    pass


def judge(report, returncode, limits, oom_killed):
    """(success, result, error, exitCode) from the bytes of the report channel. `oom_killed`
    is True or False when the OOM counter could be read, else None."""
    lines = report.split(b"\n")
    if lines[0] != b"started" or len(lines) > 3 or lines[-1] != b"":
        raise Malformed(f"the sandbox's report is malformed ({len(report)} bytes)")
    if len(lines) == 2:  # the reporter ended without its report: killed (the OOM killer), or failed
        signum = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else None
        if signum is None:
            raise Malformed(f"the sandbox's reporter ended without a report (exit status {returncode})")
        return _ended(None, signum, None, limits, oom_killed)
    try:
        said = loads(lines[1])
    except (ValueError, RecursionError):
        raise Malformed("the sandbox's report is not strict JSON") from None
    kind = said.get("kind") if isinstance(said, dict) else None
    if kind == "outcome":
        return _outcome(said)
    if kind == "ended":
        return _ended(_int(said.get("status")), _int(said.get("signal")), said.get("cpuSeconds"), limits, oom_killed)
    if kind == "refused" and isinstance(said.get("message"), str):
        return False, None, error("infrastructure_error", said["message"]), None
    raise Malformed("the sandbox's report is of no known kind")


def _int(value):
    if value is None or (type(value) is int and 0 <= value <= 255):
        return value
    raise Malformed("the sandbox's report has an impossible status")


def _outcome(said):
    ok, code, err = said.get("ok"), _int(said.get("exitCode")), said.get("error")
    if ok is True and err is None:
        return True, said.get("result"), None, code
    if ok is not False or not isinstance(err, dict) or err.get("type") not in REPORTED_ERRORS:
        raise Malformed("the sandbox's report has an impossible outcome")
    line, trace = err.get("line"), err.get("traceback")
    if not isinstance(err.get("message"), str) or not (line is None or type(line) is int) \
            or not (trace is None or isinstance(trace, str)):
        raise Malformed("the sandbox's report has a malformed error")
    # accept() left only names in the list, and only for missing_entrypoint.
    available = err.get("availableFunctions")
    available = available if isinstance(available, list) and all(isinstance(n, str) for n in available) else []
    return False, None, error(err["type"], err["message"], line, trace, available=available), code


def _ended(status, signum, cpu_seconds, limits, oom_killed):
    """The child ended without a message: by a signal, or by exiting without one (os._exit)."""
    if signum is None:
        return False, None, error("runtime_error", f"the script ended without a result (exit status {status})"), status
    return False, None, signal_error(signum, cpu_seconds, limits, oom_killed), 128 + signum


def signal_error(signum, cpu_seconds, limits, oom_killed):
    """A signal means a limit only when the kernel's own record says so: the CPU time used,
    the memory cgroup's OOM-kill counter. Otherwise the script was killed, or killed itself."""
    try:
        name = f"signal {signum} ({signal.Signals(signum).name})"
    except ValueError:
        name = f"signal {signum}"
    # RLIMIT_CPU's soft and hard limits are one: the kernel sends SIGKILL with (or instead of) SIGXCPU.
    # It checks the limit against its tick-sampled CPU clock, but cpuSeconds (rusage) is the precise run
    # time, which at a real kill can be short of the limit: by up to a tick for each CPU the script's
    # threads ran on, and by more where they shared CPUs with other pods (34 ms of 4 s measured on an
    # idle 2-CPU machine). Hence 0.9, not 1: a real kill on a busy many-CPU node must stay a timeout;
    # the price is that a script that burns 90% of its CPU time and then kills itself (with threads:
    # the CPU limit is 1 s past the wall clock) is called a timeout too.
    used_cpu = isinstance(cpu_seconds, (int, float)) and cpu_seconds >= 0.9 * limits["cpu"]
    if signum in (signal.SIGXCPU, signal.SIGKILL) and used_cpu:
        return error("timeout", f"the script used up its CPU time ({limits['cpu']} s)")
    memory = f"its {readable(limits['memory'])} memory limit (resources.memory)"
    if signum in (signal.SIGKILL, signal.SIGSEGV) and oom_killed:
        return error("memory_limit", f"the script was killed by the kernel's OOM killer ({name}) for using more "
                                     f"than {memory}")
    if signum in (signal.SIGKILL, signal.SIGSEGV) and oom_killed is None:
        return error("memory_limit", f"the script was killed by {name}, most likely for using more than {memory}; "
                                     "no OOM counter could be read to confirm it")
    if signum == signal.SIGXFSZ:
        # Not resource_limit: Python ignores SIGXFSZ, so a script dies of it only when it has restored
        # the default action, and then it may as well have sent it to itself; nothing the kernel keeps
        # tells the two apart. A script that leaves it ignored gets resource_limit for the EFBIG write.
        return error("runtime_error", f"the script was killed by {name}: it had stopped ignoring that signal, "
                                      "which the kernel sends for a file written past the "
                                      f"{readable(limits['fsize'])} file size limit (and a script can send itself)")
    return error("runtime_error", f"the script was killed by {name}")

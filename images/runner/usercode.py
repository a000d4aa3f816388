"""The reporter's child: runs the user's code and sends its outcome as one JSON
line on a pipe of its own. Everything here runs beside the user's code and can
be changed by it, so the reporter believes none of it beyond outcome.accept()."""
import atexit
import builtins
import errno
import importlib.util
import json
import os
import sys
import traceback
import types

import confine
from outcome import error, resource_messages, to_json
from tojson import plain

# Named in a ModuleNotFoundError's message when this image has them; runtimes differ in which.
NOTABLE = ("numpy", "pandas", "scipy", "sklearn", "matplotlib")
# What starts a process or a thread, by the name it is called by: os's and _posixsubprocess's
# (which subprocess, multiprocessing, pty and os.spawn* call) and _thread's (which threading calls).
# At the process limit (RLIMIT_NPROC, the pids cgroup) they fail with EAGAIN, or for a thread with
# RuntimeError("can't start new thread").
PROCESS_STARTERS = ("fork", "forkpty", "posix_spawn", "posix_spawnp", "fork_exec", "_fork_exec")
THREAD_STARTERS = ("start_new_thread", "_start_new_thread", "start_joinable_thread", "_start_joinable_thread")


def provided():
    """What this image offers beyond the standard library, as a person would list it."""
    names = [name for name in NOTABLE if _importable(name)] + ["the Python standard library"]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _importable(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a script may have left a broken entry in sys.modules
        return False


def from_exception(exc, limits):
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<script>"]
    line = frames[-1].lineno if frames else None
    trace = "".join(traceback.format_list(frames)) + "".join(traceback.format_exception_only(exc))
    if isinstance(exc, MemoryError):
        return error("memory_limit", "the script ran out of memory (MemoryError)", line, trace)
    try:
        limit = _limit_reached(exc)
    except Exception:  # the script's own exception class (an errno property that raises, say)
        limit = None
    if limit:
        return error("resource_limit", resource_messages(limits)[limit], line, trace)
    message = f"{type(exc).__name__}: {_shown(exc, str)}"
    if isinstance(exc, ModuleNotFoundError):
        message += f" (this runtime provides {provided()})"
    return error("runtime_error", message, line, trace)


def _limit_reached(exc):
    """Which limit the script ran into when exc was raised: "file" (RLIMIT_FSIZE: Python ignores its
    SIGXFSZ, so a write past it fails with EFBIG), "process", "thread", or None. Compares only exact
    ints and strs: a script's own exception may carry an object whose __eq__ raises."""
    code = exc.errno if isinstance(exc, OSError) and type(exc.errno) is int else None
    if code == errno.EFBIG:
        return "file"
    # EAGAIN is also a non-blocking socket's or pipe's "not now": it is the process limit only
    # when a call that starts a process raised it.
    if code == errno.EAGAIN and _called(exc) in PROCESS_STARTERS:
        return "process"
    said = exc.args[0] if type(exc) is RuntimeError and len(exc.args) == 1 and type(exc.args[0]) is str else None
    if said == "can't start new thread" and _called(exc) in THREAD_STARTERS:
        return "thread"
    return None


_dis = None


def _load_dis():
    """dis, for _called: loaded only when an error may be at a limit, or before an import policy."""
    global _dis
    import dis
    _dis = dis
    return dis


def _called(exc):
    """The name of what the call that raised exc called (fork for os.fork(), _fork_exec for
    _fork_exec(...) in subprocess.py), when a call to a built-in raised it; else None (a raise
    statement, or a call by another name). Read from the bytecode of the frame it was raised in:
    the callee is what starts where the call does and ends before it."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return None
    try:
        dis = _dis or _load_dis()
        steps = list(dis.get_instructions(tb.tb_frame.f_code))
        call = next((s for s in steps if s.offset == tb.tb_lasti and s.opname.startswith("CALL")), None)
        if call is None or None in call.positions:
            return None
        start, end = call.positions[0::2], call.positions[1::2]  # (line, column) of its first and last character
        callee = None
        for step in steps[:steps.index(call)]:
            if None not in step.positions and step.positions[0::2] == start and step.positions[1::2] < end:
                callee = step
    except Exception:  # the script's own doing (a replaced dis, say): not known to be at a limit
        return None
    if callee is None or not callee.opname.startswith("LOAD_") or not isinstance(callee.argval, str):
        return None
    return callee.argval


def _shown(value, show=repr):
    try:
        return show(value)
    except BaseException:  # a hostile __str__, or an integer past Python's digit limit
        return f"an unprintable {type(value).__name__}"


def guard_imports(policy):
    """Applies the import policy again at run time (the static check misses __import__)."""
    import importlib.abc  # here, not above: only runs with an import policy need it

    real_import = builtins.__import__
    deny, allow = set(policy["deny"]), policy["allow"]

    def checked(name, globals=None, locals=None, fromlist=(), level=0):
        top = name.split(".")[0]
        # Only the user's own imports are policed; libraries may import what they need.
        from_script = sys._getframe(1).f_code.co_filename == "<script>"
        if level == 0 and from_script and (top in deny or (allow is not None and top not in allow)):
            raise ImportError(f"disallowed import: '{name}' is not allowed by the import policy")
        return real_import(name, globals, locals, fromlist, level)

    builtins.__import__ = checked

    class Denied(importlib.abc.MetaPathFinder):
        """Catches what bypasses __import__ (importlib.import_module) for modules not yet loaded."""

        def find_spec(self, name, path=None, target=None):
            top = name.split(".")[0]
            if top in deny:
                raise ImportError(f"disallowed import: '{name}' is not allowed by the import policy")
            return None

    if deny:
        _load_dis()  # before the policy could refuse it, or what it imports (a policy that denies dis)
    for loaded in [m for m in sys.modules if m.split(".")[0] in deny]:
        del sys.modules[loaded]
    sys.meta_path.insert(0, Denied())


class MissingEntrypoint(LookupError):
    """The script ran, and left no function of the entrypoint's name (preflight leaves to run time what
    it cannot tell from the source: a def inside an if or a try, exec, globals())."""

    def __init__(self, name, namespace):
        self.available = sorted(k for k, v in namespace.items() if isinstance(v, types.FunctionType) and not k.startswith("_"))
        found = namespace.get(name)
        super().__init__(f"the script defines no function '{name}'" if found is None
                         else f"the script's '{name}' is not a function but {type(found).__name__}")


def run(request):
    code = compile(request["script"], "<script>", "exec")
    if request["mode"] == "script":
        exec(code, {"__name__": "__main__", "__builtins__": builtins})
        return None
    module = types.ModuleType("__script__")
    sys.modules["__script__"] = module
    exec(code, module.__dict__)
    entry = module.__dict__.get(request["entrypoint"])
    if not callable(entry):
        raise MissingEntrypoint(request["entrypoint"], module.__dict__)
    result = entry(*request["args"], **request["kwargs"])
    if isinstance(result, types.CoroutineType):  # inspect.iscoroutine, without importing inspect
        import asyncio  # here, not above: a 30 ms import that only async entrypoints need
        return asyncio.run(result)
    return result


def _exited(code):
    """The outcome of sys.exit(code), as Python would judge it but without wrapping codes past 255 round."""
    if code is None or (isinstance(code, int) and int(code) == 0):
        return {"ok": True, "result": None, "exitCode": 0}
    if isinstance(code, int) and 0 < int(code) <= 255:
        return {"ok": False, "exitCode": int(code),
                "error": error("runtime_error", f"the script exited with code {int(code)} (sys.exit)")}
    said = f"code {_shown(int(code), str)}, outside 0 to 255" if isinstance(code, int) else _shown(code)
    return {"ok": False, "exitCode": 1, "error": error("runtime_error", f"the script exited with {said} (sys.exit)")}


def outcome(request, limits):
    try:
        return {"ok": True, "result": run(request), "exitCode": 0}
    except SystemExit as exc:
        return _exited(exc.code)
    except MissingEntrypoint as exc:
        return {"ok": False, "exitCode": 1, "error": error("missing_entrypoint", str(exc), available=exc.available)}
    except ImportError as exc:
        err = from_exception(exc, limits)
        if str(exc).startswith("disallowed import"):
            err["type"] = "disallowed_import"
        return {"ok": False, "exitCode": 1, "error": err}
    except BaseException as exc:  # the user's failure, whatever it is, is reported, not raised
        return {"ok": False, "exitCode": 1, "error": from_exception(exc, limits)}


def message(request, limits):
    """The outcome as the one line the reporter accepts; a result too big to send is sent as its size."""
    result = outcome(request, limits)
    try:
        if result["ok"]:
            result["result"] = plain(result["result"])
            size = len(to_json(result["result"]))
            if size > limits["output"]:
                result = {"ok": True, "exitCode": 0, "resultBytes": size}
        return to_json(result) + b"\n"
    except TypeError as exc:
        failed = error("invalid_result", str(exc))
    except RecursionError:
        failed = error("invalid_result", "result is nested too deeply for JSON")
    except MemoryError:
        failed = error("memory_limit", "the script ran out of memory turning its result into JSON")
    except Exception as exc:  # the result's own code (a subclass's items(), say) failed while being read
        failed = error("invalid_result", f"the result could not be turned into JSON: {type(exc).__name__}: "
                                         f"{_shown(exc, str)}")
    return (json.dumps({"ok": False, "exitCode": 1, "error": failed}) + "\n").encode()


def serve(request, limits, channel):
    """Runs in the forked child: undoes what only the reporter needs, runs the code, sends the outcome.
    A process the script forked comes back through here too; only the first one sends."""
    first = os.getpid()
    confine.release()
    try:  # the OOM killer takes this process, not the reporter; needs /proc, absent in a pod's sandbox
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass
    # The script imports as in a plain interpreter: not the harness's modules by their names.
    harness = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if p != harness]
    for name in ("confine", "outcome", "tojson", "usercode"):
        sys.modules.pop(name, None)
    if request["imports"]["deny"] or request["imports"]["allow"] is not None:
        guard_imports(request["imports"])
    data = message(request, limits)
    sys.stdout.flush()
    sys.stderr.flush()
    if os.getpid() != first:  # a fork of the script's that ran to its end: the script's own business
        return
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(channel, view):]
        os.close(channel)
    except OSError:  # the script closed or replaced the channel: the reporter sees no (or a wrong) message
        pass


def end():
    """Ends the child as the interpreter would end it, less the teardown no one sees: non-daemon
    threads joined, then the atexit handlers run and the standard streams flushed, as at any
    script's end; then the process exits at once, without freeing every module one by one (which
    took over half of a short warm run). Objects still alive then are not finalized, which CPython
    never promises at exit either."""
    try:
        threading = sys.modules.get("threading")  # not imported: no thread of its to wait for
        while threading is not None:
            waiting = [t for t in threading.enumerate()
                       if t is not threading.main_thread() and not t.daemon and t.is_alive()]
            if not waiting:
                break
            for thread in waiting:
                thread.join()
        atexit._run_exitfuncs()  # what Py_Finalize calls; it reports a failing handler itself
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # the script's own doing (a broken threading, closed streams): end anyway
        pass
    os._exit(0)

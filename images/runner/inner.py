"""Runs inside the sandbox: reads the request from the fd named by argv[1],
runs the user's code, and reports {result | error} on the fd named by argv[2].
stdout and stderr belong to the user's code; the outer harness alone builds the envelope, so nothing printed here can
become a result."""
import asyncio
import builtins
import importlib.abc
import inspect
import json
import math
import os
import resource
import sys
import traceback
import types

PROVIDED = "numpy, pandas and the Python standard library"


def strict_json(value, path="result"):
    """Raises TypeError unless value is plain JSON (no sets, NaN, tuples of objects...)."""
    if value is None or isinstance(value, (bool, str, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"{path} is {value}, which JSON cannot carry")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            strict_json(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path} has the non-string key {key!r}")
            strict_json(item, f"{path}[{key!r}]")
        return
    raise TypeError(f"{path} is a {type(value).__name__}, which JSON cannot carry")


def error(type_, message, line=None, trace=None):
    return {"type": type_, "message": message, "line": line, "traceback": trace,
            "suggestions": [], "availableFunctions": []}


def from_exception(exc):
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<script>"]
    line = frames[-1].lineno if frames else None
    trace = "".join(traceback.format_list(frames)) + "".join(traceback.format_exception_only(exc))
    if isinstance(exc, MemoryError):
        return error("memory_limit", "the script ran out of memory (MemoryError)", line, trace)
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ModuleNotFoundError):
        message += f" (the runner provides {PROVIDED})"
    return error("runtime_error", message, line, trace)


def guard_imports(policy):
    """Applies the import policy again at run time (the static check misses __import__)."""
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

    for loaded in [m for m in sys.modules if m.split(".")[0] in deny]:
        del sys.modules[loaded]
    sys.meta_path.insert(0, Denied())


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
        raise LookupError(f"'{request['entrypoint']}' is not a function")
    result = entry(*request["args"], **request["kwargs"])
    return asyncio.run(result) if inspect.iscoroutine(result) else result


def main():
    request_fd, report_fd = int(sys.argv[1]), int(sys.argv[2])
    with os.fdopen(request_fd, "r") as channel:
        request = json.load(channel)
    report = os.fdopen(report_fd, "w")
    os.set_inheritable(report_fd, False)
    # Set here, inside the sandbox's own user namespace, RLIMIT_NPROC counts
    # only this run's processes (the kernel keys it by namespace and uid);
    # set outside, it would count every runner pod's uid 65532 on the node.
    pids = int(request["limits"].get("pids", 64))
    resource.setrlimit(resource.RLIMIT_NPROC, (pids, pids))
    report.write("started\n")
    report.flush()
    if request["imports"]["deny"] or request["imports"]["allow"] is not None:
        guard_imports(request["imports"])
    outcome = {"ok": True, "result": None, "exitCode": 0}
    try:
        outcome["result"] = run(request)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if code:
            outcome = {"ok": False, "exitCode": code,
                       "error": error("runtime_error", f"the script exited with code {code} (sys.exit)")}
    except ImportError as exc:
        err = from_exception(exc)
        if str(exc).startswith("disallowed import"):
            err["type"] = "disallowed_import"
        outcome = {"ok": False, "exitCode": 1, "error": err}
    except BaseException as exc:  # the user's failure, whatever it is, is reported, not raised
        outcome = {"ok": False, "exitCode": 1, "error": from_exception(exc)}
    else:
        try:
            strict_json(outcome["result"])
        except TypeError as exc:
            outcome = {"ok": False, "exitCode": 1, "error": error("invalid_result", str(exc))}
    sys.stdout.flush()
    sys.stderr.flush()
    report.write(json.dumps(outcome, allow_nan=False) + "\n")
    report.flush()


if __name__ == "__main__":
    main()

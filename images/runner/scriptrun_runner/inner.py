"""The inner process, inside the sandbox: it reads the job from the control pipe, applies the
per-process limits, runs the user's code and reports one JSON line on the result pipe. It decides
nothing about the envelope; the outer harness checks what it says and owns everything else.

The result pipe is the script's only way to the harness besides stdout and stderr, which the outer
reads as plain output, so printing can never forge a result. The pipe is close-on-exec, and what it
may carry is narrow: a result or one of the error types the script can cause itself."""
import asyncio
import builtins
import json
import linecache
import os
import resource
import sys
import threading
import types

from . import failures, strictjson
from .envelope import dumps, error
from .imports import ImportPolicy, install
from .preflight import SCRIPT_FILENAME, missing_entrypoint, syntax_error

STARTED = b'{"started":true}\n'
# Freed when the script runs out of memory, so that the report can still be written.
_RESERVE_BYTES = 256 * 1024


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _lower(limit: int, value: int) -> None:
    """Sets a limit no higher than the hard limit already in force (nsjail may have set it)."""
    _, hard = resource.getrlimit(limit)
    value = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(limit, (value, value))


def apply_limits(limits: dict) -> None:
    _lower(resource.RLIMIT_CORE, 0)
    _lower(resource.RLIMIT_FSIZE, limits["fileSizeBytes"])
    _lower(resource.RLIMIT_NOFILE, limits["openFiles"])
    _lower(resource.RLIMIT_NPROC, limits["processes"])
    if limits["addressSpaceBytes"]:
        _lower(resource.RLIMIT_AS, limits["addressSpaceBytes"])
    # SIGXCPU at the soft limit, SIGKILL a second later if the script ignores it.
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    cpu = limits["cpuSeconds"] if hard == resource.RLIM_INFINITY else min(limits["cpuSeconds"], hard - 1)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


def _call_entrypoint(module: types.ModuleType, job: dict):
    entrypoint = job["entrypoint"]
    target = module.__dict__.get(entrypoint)
    if not callable(target):
        functions = [name for name, value in module.__dict__.items()
                     if isinstance(value, types.FunctionType) and value.__module__ == module.__name__]
        what = None if target is None else f"a {type(target).__name__}"
        return None, missing_entrypoint(entrypoint, functions, what)
    value = target(*job["args"], **job["kwargs"])
    if asyncio.iscoroutine(value):
        value = asyncio.run(value)
    return value, None


def _execute(job: dict) -> tuple:
    """(result, None) or (None, error), letting the script's exceptions escape."""
    source = job["script"]
    linecache.cache[SCRIPT_FILENAME] = (len(source), None, source.splitlines(True), SCRIPT_FILENAME)
    try:
        code = compile(source, SCRIPT_FILENAME, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        return None, syntax_error(exc)
    name = "__main__" if job["mode"] == "script" else "script"
    module = types.ModuleType(name)
    module.__builtins__ = builtins
    sys.modules[name] = module
    exec(code, module.__dict__)
    if job["mode"] == "script":
        return None, None
    return _call_entrypoint(module, job)


def _exit_error(exc: SystemExit, memory: str) -> tuple:
    """sys.exit() as Python itself treats it: None and 0 succeed, a number is the exit code, anything
    else is printed to stderr and exits 1."""
    code = exc.code
    if code is None or code == 0:
        return None, 0
    if not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    return failures.from_exception(exc, memory), code


def _report(job: dict) -> tuple:
    """(message, encoded result): the message for the result pipe, with the result as JSON text."""
    reserve = bytearray(_RESERVE_BYTES)
    try:
        value, problem = _execute(job)
        for thread in threading.enumerate():  # Python waits for non-daemon threads before exiting
            if thread is not threading.main_thread() and not thread.daemon:
                thread.join()
        if problem:
            return {"ok": False, "error": problem, "exitCode": 1}, None
        encoded = strictjson.encode(value).encode("utf-8", "backslashreplace")
    except SystemExit as exc:
        problem, code = _exit_error(exc, job["memory"])
        return ({"ok": True}, b"null") if problem is None else ({"ok": False, "error": problem, "exitCode": code}, None)
    except strictjson.NotJson as exc:
        problem = error("invalid_result", f"The entrypoint returned {exc}", suggestions=[exc.suggestion])
        return {"ok": False, "error": problem, "exitCode": 1}, None
    except BaseException as exc:  # the script's own failure, whatever it raised
        del reserve
        return {"ok": False, "error": failures.from_exception(exc, job["memory"]), "exitCode": 1}, None
    if len(encoded) > job["outputBytes"]:
        problem = error("output_limit", f"The result is larger than the output limit of {job['outputBytes']} bytes",
                        suggestions=["Return less data, or raise limits.outputBytes"])
        return {"ok": False, "error": problem, "exitCode": 1}, None
    return {"ok": True}, encoded


def _flush_output() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:  # the script may have closed or replaced its streams
            pass


def main(control_fd: int, result_fd: int, harness_dir: str) -> None:
    os.set_inheritable(result_fd, False)
    job = json.loads(_read_all(control_fd))
    _write_all(result_fd, STARTED)
    apply_limits(job["limits"])
    # The script sees its own world: no harness on the import path, its own argv, prompt output.
    sys.path[:] = [entry for entry in sys.path if entry != harness_dir]
    sys.argv = [SCRIPT_FILENAME]
    sys.stdout.reconfigure(line_buffering=True)
    if job["imports"] is not None:
        install(ImportPolicy(job["imports"]["allow"], job["imports"]["deny"]))
    message, encoded = _report(job)
    _flush_output()
    # The result is spliced in as the JSON text strictjson made, rather than parsed and written again.
    line = dumps(message)[:-1] + b',"result":' + encoded + b"}" if encoded is not None else dumps(message)
    _write_all(result_fd, line + b"\n")
    os._exit(0)

"""How an exception the script raised becomes an error object: the type name in the message, the
traceback trimmed to the script's own frames (the harness's frames above them are noise), the
line of the script where it happened, and a hint where one helps."""
import importlib.util
import traceback
from typing import Optional

from .envelope import error
from .imports import USER_FILENAMES, DisallowedImport

# What the image promises besides the standard library (DESIGN.md: Python 3 with numpy and pandas).
PROVIDED_PACKAGES = ("numpy", "pandas")
TRACEBACK_CHARS = 16000


def _from_first_user_frame(tb):
    while tb is not None and tb.tb_frame.f_code.co_filename not in USER_FILENAMES:
        tb = tb.tb_next
    return tb


def _last_user_line(tb) -> Optional[int]:
    line = None
    for frame, lineno in traceback.walk_tb(tb):
        if frame.f_code.co_filename in USER_FILENAMES:
            line = lineno
    return line


def _cap(text: str) -> str:
    if len(text) <= TRACEBACK_CHARS:
        return text
    head, tail = TRACEBACK_CHARS // 4, TRACEBACK_CHARS * 3 // 4
    return f"{text[:head]}\n... ({len(text) - head - tail} characters cut) ...\n{text[-tail:]}"


def describe(exc: BaseException) -> str:
    """"NameError: name 'x' is not defined", as Python's own last traceback line says it."""
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _listed(names: list, conjunction: str) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {conjunction} {names[-1]}"


def provided_packages() -> list:
    """What this image lets a script import: ["numpy", "pandas", "the standard library"]."""
    present = [name for name in PROVIDED_PACKAGES if importlib.util.find_spec(name) is not None]
    return present + ["the standard library"]


def _trimmed(exc: BaseException) -> tuple:
    tb = _from_first_user_frame(exc.__traceback__)
    text = "".join(traceback.TracebackException(type(exc), exc, tb, compact=True).format())
    return _cap(text), _last_user_line(tb)


def from_exception(exc: BaseException, memory: str) -> dict:
    """The error object for an exception that escaped the script."""
    if isinstance(exc, MemoryError):
        # The traceback would need memory the script has just run out of; the line is enough.
        line = _last_user_line(_from_first_user_frame(exc.__traceback__))
        return error("memory_limit", f"MemoryError: the script used more than its memory limit of {memory}",
                     line=line, suggestions=[f"Use less memory, or ask for more than {memory} in resources.memory"])
    text, line = _trimmed(exc)
    if isinstance(exc, DisallowedImport):
        return error("disallowed_import", str(exc), line=line, traceback=text)
    message, suggestions = describe(exc), []
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        provided = provided_packages()
        message = f"{message}. This runner provides {_listed(provided, 'and')}; other packages cannot be installed"
        suggestions = [f"Use {_listed(provided, 'or')} instead of {exc.name.partition('.')[0]}"]
    return error("runtime_error", message, line=line, traceback=text, suggestions=suggestions)

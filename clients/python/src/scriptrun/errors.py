"""What a run that failed raises: one ScriptRunError subclass per error type of the product
(``invalid_input`` ... ``infrastructure_error``), carrying the run's stdout, stderr and traceback;
and ApiError for what the API itself refused or could not do (no such run, not allowed, unreachable)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Type

if TYPE_CHECKING:
    from .client import Run


class ScriptRunError(Exception):
    """A run that failed. ``type`` is the stable error type; the subclass is named for it."""

    type = ""

    def __init__(self, message: str, *, error: Optional[Mapping[str, Any]] = None, stdout: str = "", stderr: str = "",
                 name: Optional[str] = None, namespace: Optional[str] = None, exit_code: Optional[int] = None) -> None:
        super().__init__(message)
        details = dict(error or {})
        self.message = message
        self.stdout = stdout
        self.stderr = stderr
        self.traceback: Optional[str] = details.get("traceback")
        self.line: Optional[int] = details.get("line")
        self.suggestions: List[str] = list(details.get("suggestions") or [])
        self.available_functions: List[str] = list(details.get("availableFunctions") or [])
        self.name = name
        self.namespace = namespace
        self.exit_code = exit_code

    def __str__(self) -> str:
        # A syntax error's message says its line already (preflight's "invalid syntax (line 1)").
        where = f" (line {self.line})" if self.line is not None and not self.message.endswith(f"(line {self.line})") else ""
        text = f"{self.type}: {self.message}{where}"
        if self.traceback:
            text += "\nTraceback (most recent call last):\n" + self.traceback.rstrip("\n")
        for suggestion in self.suggestions:
            text += f"\nhint: {suggestion}"
        return text


class ScriptInvalidInput(ScriptRunError):
    """The request is malformed or above a limit of its runtime; nothing ran."""
    type = "invalid_input"


class ScriptSyntaxError(ScriptRunError):
    """CPython's parser refused the script; ``line`` says where."""
    type = "syntax_error"


class ScriptMissingEntrypoint(ScriptRunError):
    """The function to call is not defined; ``available_functions`` lists those that are."""
    type = "missing_entrypoint"


class ScriptRuntimeError(ScriptRunError):
    """An uncaught exception, sys.exit with a non-zero code, a missing module, a fatal signal."""
    type = "runtime_error"


class ScriptInvalidResult(ScriptRunError):
    """The result is not something strict JSON can carry (a set, NaN, an object)."""
    type = "invalid_result"


class ScriptTimeout(ScriptRunError):
    """The run went past its wall-clock or CPU time limit."""
    type = "timeout"


class ScriptMemoryLimit(ScriptRunError):
    """The script ran out of memory."""
    type = "memory_limit"


class ScriptOutputLimit(ScriptRunError):
    """stdout, stderr or the result went past the output limit."""
    type = "output_limit"


class ScriptResourceLimit(ScriptRunError):
    """Another limit ran out: file size, process count."""
    type = "resource_limit"


class ScriptDisallowedImport(ScriptRunError):
    """The runtime's import policy forbids a module the script imports."""
    type = "disallowed_import"


class ScriptCancelled(ScriptRunError):
    """The run was cancelled."""
    type = "cancelled"


class ScriptInfrastructureError(ScriptRunError):
    """The run's pod could not run it: image, scheduling, eviction."""
    type = "infrastructure_error"


ERROR_CLASSES: Dict[str, Type[ScriptRunError]] = {
    cls.type: cls for cls in (
        ScriptInvalidInput, ScriptSyntaxError, ScriptMissingEntrypoint, ScriptRuntimeError, ScriptInvalidResult, ScriptTimeout,
        ScriptMemoryLimit, ScriptOutputLimit, ScriptResourceLimit, ScriptDisallowedImport, ScriptCancelled, ScriptInfrastructureError,
    )
}


def error_from(outcome: Mapping[str, Any]) -> ScriptRunError:
    """The exception for a failed run's outcome (as the API answers it)."""
    error = outcome.get("error") or {}
    cls = ERROR_CLASSES.get(error.get("type", ""), ScriptRunError)
    return cls(error.get("message", "the run failed"), error=error, stdout=outcome.get("stdout") or "",
               stderr=outcome.get("stderr") or "", name=outcome.get("name"), namespace=outcome.get("namespace"),
               exit_code=outcome.get("exitCode"))


class ApiError(Exception):
    """The API refused a request or failed it: ``status`` is the HTTP status, ``type`` the API's error type
    (``not_found``, ``conflict``, ``forbidden``, ... see the API's README); ``retry_after`` the seconds its
    ``Retry-After`` asked to wait before trying again (a 429 or 503), else None. ``run``: the Run that
    ``wait`` or ``stream`` (and so ``run``, once its run was created) was following, to wait for again
    rather than start a second; ``idempotency_key``: the key a failed ``submit`` sent, to submit again with."""

    def __init__(self, status: Optional[int], type: str, message: str, retry_after: Optional[float] = None, *,
                 run: Optional[Run] = None) -> None:
        super().__init__(f"{status} {type}: {message}" if status is not None else f"{type}: {message}")
        self.status = status
        self.type = type
        self.message = message
        self.retry_after = retry_after
        self.run = run
        self.idempotency_key: Optional[str] = None


class ApiUnavailable(ApiError):
    """The API could not be reached, or did not answer in time."""

    def __init__(self, message: str, status: Optional[int] = None, retry_after: Optional[float] = None) -> None:
        super().__init__(status, "unavailable", message, retry_after)
        # The message says it all ("could not reach the API at URL: ...", "the API answered 503 ...").
        self.args = (message,)

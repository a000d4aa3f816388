"""A client of the ScriptRun HTTP API: run Python scripts and functions in sandboxed pods of a
Kubernetes cluster. ``Client(url).run(function, *args, **kwargs)`` returns the result or raises the
ScriptRunError subclass named for the error."""

from .client import Client, Outcome, Run, script_of
from .errors import (
    ERROR_CLASSES, ApiError, ApiUnavailable, ScriptCancelled, ScriptDisallowedImport, ScriptInfrastructureError,
    ScriptInvalidInput, ScriptInvalidResult, ScriptMemoryLimit, ScriptMissingEntrypoint, ScriptOutputLimit,
    ScriptResourceLimit, ScriptRunError, ScriptRuntimeError, ScriptSyntaxError, ScriptTimeout,
)
from .sse import Event

__all__ = [
    "Client", "Outcome", "Run", "Event", "script_of", "ERROR_CLASSES", "ApiError", "ApiUnavailable", "ScriptRunError",
    "ScriptInvalidInput", "ScriptSyntaxError", "ScriptMissingEntrypoint", "ScriptRuntimeError", "ScriptInvalidResult",
    "ScriptTimeout", "ScriptMemoryLimit", "ScriptOutputLimit", "ScriptResourceLimit", "ScriptDisallowedImport",
    "ScriptCancelled", "ScriptInfrastructureError",
]

"""The harness's answers (docs/architecture.md): the error object, the envelope, and the termination
message, which is the envelope when it fits in 4096 bytes and a small "see the log" marker when not."""
import json
from typing import Any, Optional

ERROR_TYPES = (
    "invalid_input", "syntax_error", "missing_entrypoint", "runtime_error", "invalid_result", "timeout",
    "memory_limit", "output_limit", "resource_limit", "disallowed_import", "cancelled", "infrastructure_error",
)
TERMINATION_MESSAGE_BYTES = 4096


def error(kind: str, message: str, line: Optional[int] = None, traceback: Optional[str] = None,
          suggestions: tuple = (), available_functions: tuple = ()) -> dict:
    assert kind in ERROR_TYPES, kind
    return {"type": kind, "message": message, "line": line, "traceback": traceback,
            "suggestions": list(suggestions), "availableFunctions": list(available_functions)}


def envelope(*, success: bool, result: Any = None, stdout: str = "", stderr: str = "",
             stdout_truncated: bool = False, stderr_truncated: bool = False, error: Optional[dict] = None,
             exit_code: Optional[int] = None, duration_ms: int = 0, sandbox: Optional[dict] = None) -> dict:
    return {
        "success": success, "result": result if success else None,
        "stdout": stdout, "stderr": stderr, "stdoutTruncated": stdout_truncated, "stderrTruncated": stderr_truncated,
        "error": None if success else error, "exitCode": exit_code, "durationMs": duration_ms, "sandbox": sandbox,
    }


def failed(err: dict, **fields: Any) -> dict:
    return envelope(success=False, error=err, **fields)


def dumps(value: Any) -> bytes:
    """One line of UTF-8 JSON (JSON escapes every line break). A lone surrogate, which only a string
    can hold, is written as its JSON escape (\\udXXX) rather than as invalid UTF-8."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8", "backslashreplace")


def termination_message(env: dict) -> bytes:
    whole = dumps(env)
    if len(whole) <= TERMINATION_MESSAGE_BYTES:
        return whole
    err = env.get("error") or {}
    return dumps({"truncated": True, "success": env["success"], "exitCode": env.get("exitCode"),
                  "errorType": err.get("type"), "durationMs": env.get("durationMs")})

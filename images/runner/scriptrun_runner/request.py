"""The request the harness runs: the ScriptRun spec's execution fields (docs/architecture.md),
checked and with the defaults filled in. Anything malformed raises RequestError, which becomes an
invalid_input error; unknown fields are ignored so the API can grow without breaking old runners."""
import math
import os
import re
from dataclasses import dataclass
from typing import Any, Optional

from .imports import ImportPolicy

DEFAULT_TIMEOUT_SECONDS = 10
DEFAULT_CPU = "1"
DEFAULT_MEMORY = "256Mi"
DEFAULT_PIDS = 64
DEFAULT_OUTPUT_BYTES = 1024 * 1024
# DESIGN.md's default cap; the operator, which may configure another, passes it on as this variable.
DEFAULT_MAX_SCRIPT_BYTES = 256 * 1024
MAX_SCRIPT_BYTES_ENV = "SCRIPTRUN_MAX_SCRIPT_BYTES"
MIN_MEMORY_BYTES = 1024 * 1024
MODES = ("function", "script")

_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
_SUFFIX = {
    None: 1, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}


class RequestError(Exception):
    """The request cannot be run as given; the message says which field and why."""


@dataclass(frozen=True)
class Request:
    script: str
    mode: str
    entrypoint: str
    args: list
    kwargs: dict
    stdin: str
    timeout_seconds: float
    cpu: float
    memory: str
    memory_bytes: int
    pids: int
    output_bytes: int
    imports: Optional[ImportPolicy]


def parse_quantity(value: Any, field: str) -> float:
    """A Kubernetes quantity ("256Mi", "0.5Gi", "500m", "1e3") or a plain number, as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise RequestError(f"{field} must be a Kubernetes quantity such as \"256Mi\"")
    if isinstance(value, str):
        match = _QUANTITY.match(value.strip())
        if not match:
            raise RequestError(f"{field} {value!r} is not a Kubernetes quantity such as \"256Mi\"")
        number, exponent, suffix = match.groups()
        value = float(number) * 10 ** int(exponent or 0) * _SUFFIX[suffix]
    if not math.isfinite(value) or value < 0:
        raise RequestError(f"{field} must be a finite quantity of at least 0")
    return float(value)


def _get(obj: dict, key: str, kind: type, default: Any, what: str) -> Any:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, kind):
        raise RequestError(f"{key} must be {what}")
    return value


def _or_default(value: Any, default: Any) -> Any:
    return default if value is None else value


def _positive_int(obj: dict, key: str, default: int, field: str) -> int:
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 1:
        raise RequestError(f"{field} must be a whole number of at least 1")
    return int(value)


def max_script_bytes() -> int:
    configured = os.environ.get(MAX_SCRIPT_BYTES_ENV, "")
    return int(configured) if configured.isdigit() and int(configured) > 0 else DEFAULT_MAX_SCRIPT_BYTES


def parse_request(obj: Any) -> Request:
    if not isinstance(obj, dict):
        raise RequestError("the request must be a JSON object")
    script = obj.get("script")
    if not isinstance(script, str):
        raise RequestError("script is required and must be a string")
    if not script.strip():
        raise RequestError("script is empty")
    size, cap = len(script.encode("utf-8", "surrogatepass")), max_script_bytes()
    if size > cap:
        raise RequestError(f"script is {size} bytes; at most {cap} are allowed")

    mode = _get(obj, "mode", str, "function", "\"function\" or \"script\"")
    if mode not in MODES:
        raise RequestError("mode must be \"function\" or \"script\"")
    entrypoint = _get(obj, "entrypoint", str, "main", "a string")
    if not entrypoint.isidentifier():
        raise RequestError(f"entrypoint {entrypoint!r} is not a Python identifier")
    args = _get(obj, "args", list, [], "a JSON array")
    kwargs = _get(obj, "kwargs", dict, {}, "a JSON object")
    stdin = _get(obj, "stdin", str, "", "a string")

    timeout = obj.get("timeoutSeconds")
    if timeout is None:
        timeout = DEFAULT_TIMEOUT_SECONDS
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or timeout <= 0:
        raise RequestError("timeoutSeconds must be a number greater than 0")

    resources = _get(obj, "resources", dict, {}, "an object with cpu and memory")
    cpu = parse_quantity(_or_default(resources.get("cpu"), DEFAULT_CPU), "resources.cpu")
    if cpu <= 0:
        raise RequestError("resources.cpu must be more than 0")
    memory = _or_default(resources.get("memory"), DEFAULT_MEMORY)
    memory_bytes = math.ceil(parse_quantity(memory, "resources.memory"))
    if memory_bytes < MIN_MEMORY_BYTES:
        raise RequestError("resources.memory must be at least 1Mi")

    limits = _get(obj, "limits", dict, {}, "an object with pids and outputBytes")
    pids = _positive_int(limits, "pids", DEFAULT_PIDS, "limits.pids")
    output_bytes = _positive_int(limits, "outputBytes", DEFAULT_OUTPUT_BYTES, "limits.outputBytes")

    imports = obj.get("imports")
    policy = None if imports is None else ImportPolicy.from_request(imports, RequestError)
    return Request(script=script, mode=mode, entrypoint=entrypoint, args=args, kwargs=kwargs, stdin=stdin,
                   timeout_seconds=float(timeout), cpu=cpu, memory=str(memory), memory_bytes=memory_bytes,
                   pids=pids, output_bytes=output_bytes, imports=policy)

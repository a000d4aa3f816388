"""The entrypoint's return value as strict JSON. Python's json module quietly turns dict keys into
strings and writes NaN; a result must instead round-trip exactly, so anything JSON cannot carry is
refused (invalid_result) with the path to the offending value and a hint for fixing it."""
import json
import math
from typing import Any

MAX_DEPTH = 500


class NotJson(Exception):
    def __init__(self, message: str, suggestion: str):
        super().__init__(message)
        self.suggestion = suggestion


def _type_name(value: Any) -> str:
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _suggestion(value: Any) -> str:
    module = type(value).__module__.partition(".")[0]
    if isinstance(value, (set, frozenset)):
        return "Return a list instead of a set, e.g. sorted(values)"
    if module == "numpy":
        return "Convert numpy values with .item() or .tolist()"
    if module == "pandas":
        return "Convert pandas objects with .to_dict() or .tolist()"
    if isinstance(value, (bytes, bytearray)):
        return "Decode bytes to a string, e.g. data.decode()"
    return "Return only dicts, lists, strings, numbers, booleans and None"


def _check(value: Any, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise NotJson(f"{path} is nested more than {MAX_DEPTH} levels deep", "Return a flatter structure")
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotJson(f"{path} is {value!r}, which JSON cannot carry", "Return None or a string instead of NaN or infinity")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotJson(f"{path} has the key {key!r}, which is not a string", "Use strings as dict keys, e.g. str(key)")
            _check(item, f"{path}[{key!r}]", depth + 1)
        return
    raise NotJson(f"{path} is a {_type_name(value)}, which JSON cannot carry", _suggestion(value))


def encode(value: Any) -> str:
    """Compact JSON for `value`, or NotJson saying why it cannot be."""
    try:
        _check(value, "the result", 0)
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except RecursionError:
        raise NotJson("the result is nested too deeply", "Return a flatter structure") from None
    except ValueError as exc:  # an int beyond Python's int-to-text digit limit
        raise NotJson(f"the result cannot be written as JSON: {exc}", "Return very large numbers as strings") from None

"""Results from numpy and pandas become the JSON a data person expects, as pandas' own to_json
writes it; what JSON cannot carry is invalid_result with a hint naming the type. A result, or an
argument, nested deeper than the harness carries is refused where it is first seen, naming the cap."""
import json

import pytest

from conftest import run_runner
from outcome import MAX_DEPTH

PRELUDE = "import datetime\nimport numpy as np\nimport pandas as pd\n"


def returning(expression, prelude=PRELUDE):
    envelope, _, _ = run_runner({"script": f"{prelude}def main():\n    return {expression}\n"})
    return envelope


@pytest.mark.parametrize("expression, expected", [
    ("np.int64(3)", 3),
    ("np.float32(1.5)", 1.5),
    ("np.bool_(True)", True),
    ("np.array([[1, 2], [3, 4]])", [[1, 2], [3, 4]]),
    ("np.array([0.5, np.nan, np.inf])", [0.5, None, None]),
    ("np.array(['2024-01-02', 'NaT'], dtype='datetime64[ns]')", ["2024-01-02T00:00:00", None]),
    ("{'mean': np.float64('nan'), 'n': np.int32(7)}", {"mean": None, "n": 7}),
    ("pd.Series([10, 20])", {"0": 10, "1": 20}),
    ("pd.Series([1.5], index=pd.to_datetime(['2024-01-02']))", {"2024-01-02T00:00:00": 1.5}),
    ("pd.Timestamp('2024-01-02 03:04:05.5')", "2024-01-02T03:04:05.500000"),
    ("[pd.NaT, pd.NA, None]", [None, None, None]),
    ("datetime.date(2024, 1, 2)", "2024-01-02"),
    ("datetime.datetime(2024, 1, 2, 3, 4, 5)", "2024-01-02T03:04:05"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_numpy_pandas_or_date_value_is_returned_as_json(expression, expected):
    envelope = returning(expression)
    assert envelope["success"], envelope["error"]
    assert envelope["result"] == expected


def test_a_dataframe_is_a_list_of_row_objects_with_nulls_and_iso_timestamps():
    frame = ("pd.DataFrame({'name': ['a', None], 'x': [1.5, np.nan], "
             "'at': pd.to_datetime(['2024-01-02 03:04:05', None]), 'n': pd.array([1, None], dtype='Int64')})")
    envelope = returning(frame)
    assert envelope["success"], envelope["error"]
    assert envelope["result"] == [{"name": "a", "x": 1.5, "at": "2024-01-02T03:04:05", "n": 1},
                                  {"name": None, "x": None, "at": None, "n": None}]


@pytest.mark.parametrize("expression, message", [
    ("{1, 2}", "result is a set, which JSON cannot carry; return a list"),
    ("{'d': pd.Series([pd.Timedelta('1s')])}", "result['d']['0'] is a Timedelta, which JSON cannot carry"),
    ("np.array([1j])", "result[0] is a complex128, which JSON cannot carry"),
    ("pd.Series([1, 2], index=[0, 0])", "result is a Series with duplicate index labels"),
    ("np.uint64(2**64 - 1)", "return it as a string (str(n))"),
], ids=["set", "timedelta-in-series", "complex-array", "duplicate-index", "past-2-to-the-53"])
def test_a_value_json_cannot_carry_is_an_invalid_result_naming_its_type(expression, message):
    envelope = returning(expression)
    assert envelope["success"] is False and envelope["error"]["type"] == "invalid_result"
    assert message in envelope["error"]["message"]


def test_a_bare_python_nan_stays_an_invalid_result():
    # Only inside numpy or pandas data is NaN a missing value; a script's own NaN is no data's.
    for expression in ("float('nan')", "[1.0, float('inf')]"):
        envelope = returning(expression, prelude="")
        assert envelope["success"] is False and envelope["error"]["type"] == "invalid_result", expression


def test_a_script_without_numpy_does_not_load_it_to_send_its_result():
    # The atexit hook runs after the result was sent: it sees what sending it imported.
    script = ("import atexit, sys\n"
              "atexit.register(lambda: print(sorted(m for m in ('numpy', 'pandas') if m in sys.modules)))\n"
              "def main():\n    return {'answer': 42, 'when': __import__('datetime').date(2024, 1, 2)}\n")
    envelope, _, _ = run_runner({"script": script})
    assert envelope["success"] and envelope["result"] == {"answer": 42, "when": "2024-01-02"}
    assert envelope["stdout"] == "[]\n"


def nested(depth, inner=1):
    """`inner` inside `depth` lists, one inside the other."""
    for _ in range(depth):
        inner = [inner]
    return inner


def returning_nested(depth, bottom="1", prelude=""):
    """A request whose main returns `bottom` (an expression) inside `depth` lists."""
    return {"script": f"{prelude}def main():\n    x = {bottom}\n    for _ in range({depth}):\n        x = [x]\n"
                      "    return x\n"}


def assert_past_the_cap(envelope, type_="invalid_result"):
    assert envelope["success"] is False and envelope["error"]["type"] == type_, json.dumps(envelope)[:400]
    assert f"nested more than {MAX_DEPTH} levels deep" in envelope["error"]["message"]


def test_a_result_nested_as_deep_as_the_cap_arrives_whole():
    envelope, _, _ = run_runner(returning_nested(MAX_DEPTH))
    assert envelope["success"] and envelope["result"] == nested(MAX_DEPTH)


# 989 to 991 levels passed the script's own check and then ran out of stack in the reporter or the
# outer harness: an infrastructure_error, or a false "tampered".
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 988, 989, 990, 991, 992, 5000])
def test_a_result_nested_past_the_cap_is_an_invalid_result_naming_it(depth):
    envelope, _, _ = run_runner(returning_nested(depth))
    assert_past_the_cap(envelope)
    assert envelope["exitCode"] == 1


def test_a_numpy_value_nested_past_the_cap_is_an_invalid_result_naming_it():
    # Converted (tojson.jsonable), not only checked: the conversion keeps to the cap too.
    envelope, _, _ = run_runner(returning_nested(600, "np.int64(1)", "import numpy as np\n"))
    assert_past_the_cap(envelope)


def test_a_result_past_the_cap_sent_straight_to_the_reporter_is_an_invalid_result():
    # The reporter checks the script's message again, whatever wrote it.
    message = json.dumps({"ok": True, "result": nested(MAX_DEPTH + 50), "exitCode": 0}) + "\n"
    script = (f"import os\nMESSAGE = {message.encode()!r}\ndef main():\n    for fd in range(3, 64):\n"
              "        try:\n            os.write(fd, MESSAGE)\n        except OSError:\n            pass\n"
              "    os._exit(0)\n")
    assert_past_the_cap(run_runner({"script": script})[0])


@pytest.mark.parametrize("given, expected", [
    ({"args": [nested(MAX_DEPTH)]}, nested(MAX_DEPTH)),
    ({"kwargs": {"y": nested(MAX_DEPTH - 1, {"k": 1})}}, nested(MAX_DEPTH - 1, {"k": 1})),
], ids=["args", "kwargs"])
def test_an_argument_as_deep_as_the_cap_reaches_the_script_and_comes_back(given, expected):
    envelope, _, _ = run_runner({"script": "def main(x=None, y=None):\n    return x or y\n", **given})
    assert envelope["success"] and envelope["result"] == expected


@pytest.mark.parametrize("field, depth", [("args", MAX_DEPTH + 1), ("kwargs", MAX_DEPTH + 1), ("args", 990),
                                          ("limits", 990)])
def test_an_argument_nested_past_the_cap_is_invalid_input_naming_it(field, depth):
    value = "[" * depth + "1" + "]" * depth  # as JSON text: this process's json would run out of stack at 990
    holder = f"[{value}]" if field == "args" else f'{{"x": {value}}}'
    raw = f'{{"script": "def main(*args, **kwargs):\\n    return 1\\n", "{field}": {holder}}}'
    envelope, _, _ = run_runner(None, raw=raw)
    assert_past_the_cap(envelope, "invalid_input")
    assert envelope["error"]["message"].startswith(field)

"""A script's result as plain JSON: numpy and pandas values become what their
own to_json gives a data person (numbers, lists, row objects, ISO 8601 strings,
null for what is missing); anything else JSON cannot carry is refused with a
hint naming its type. The README's "Results from numpy and pandas" documents it.

numpy and pandas are looked up in sys.modules, never imported: a value of theirs
exists only if the script imported them, and a hello-world must not pay for them.
This runs beside the user's code, so the reporter checks its work again
(outcome.strict_json in outcome.accept); here it only has to be right for honest results."""
import math
import sys

from outcome import MAX_DEPTH, TooDeep, strict_json


class Refused(TypeError):
    """A value JSON cannot carry. Each container on the way out adds where in it the value was,
    so that a result which converts, the usual case, never pays for making paths."""

    def __init__(self, what):
        super().__init__(what)
        self.what, self.steps = what, []

    def __str__(self):
        return f"result{''.join(reversed(self.steps))} is {self.what}"


def plain(value):
    """value as strict JSON, converted where it needs to be; raises TypeError when it cannot be."""
    try:
        strict_json(value)
        return value  # the usual result: JSON already (a finite np.float64 is a float), nothing to convert
    except TypeError:
        pass
    value = jsonable(value)
    strict_json(value)  # what conversion leaves to it: a bare NaN, integers past 2**53 - 1, non-string keys
    return value


def jsonable(value, missing=False, room=MAX_DEPTH):
    """value with numpy, pandas and date values replaced by plain JSON; raises Refused (a TypeError)
    with a hint for what has no JSON form, or TooDeep for containers nested more than `room` deep.
    `missing`: inside numpy or pandas data, where NaN means a missing value (null, as pandas writes
    it); a bare Python NaN is no data's missing value and stays for outcome.strict_json to refuse, as
    do integers past 2**53 - 1 and non-string keys of a dict."""
    kind = type(value)  # plain scalars first, by exact type: they are the bulk of any result
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return None if missing and not math.isfinite(value) else value
    np, pd = sys.modules.get("numpy"), sys.modules.get("pandas")
    if np is not None and isinstance(value, np.ndarray):
        return _array(value, np, room)
    if np is not None and isinstance(value, np.generic):  # before float: np.float64 is one
        return _numpy_scalar(value, np)
    if isinstance(value, (str, int)):  # subclasses, as json.dumps writes them
        return value
    if isinstance(value, float):
        return None if missing and not math.isfinite(value) else value
    if isinstance(value, (list, tuple)):
        return _list(value, missing, room)
    if isinstance(value, dict):
        return _object(value.items(), missing, room, str_keys=False)
    if pd is not None:
        if value is pd.NA or value is pd.NaT:
            return None
        if isinstance(value, pd.DataFrame):
            return _records(value, room)
        if isinstance(value, pd.Series):
            items = _object(value.items(), True, room)
            if len(items) != len(value):
                raise Refused("a Series with duplicate index labels, which a JSON object cannot carry; "
                              "return .tolist(), or .reset_index() to keep the labels")
            return items
    stamp = _iso(value)
    if stamp is not None:
        return stamp
    raise Refused(_refusal(value, np, pd))


def _list(values, missing, room, convert=jsonable):
    if room == 0:
        raise TooDeep()
    items = []
    i = 0
    try:
        for i, item in enumerate(values):
            items.append(convert(item, missing, room - 1))
    except Refused as exc:
        exc.steps.append(f"[{i}]")
        raise
    return items


def _object(pairs, missing, room, str_keys=True):
    """A dict's items, or a Series' (index label, value) pairs with the labels as pandas writes them."""
    if room == 0:
        raise TooDeep()
    items = {}
    key = None
    try:
        for key, item in pairs:
            if str_keys:
                key = _key(key)
            items[key] = jsonable(item, missing, room - 1)
    except Refused as exc:
        exc.steps.append(f"[{key!r}]")
        raise
    return items


def _records(frame, room):
    """A DataFrame as pandas' to_json(orient="records") has it: one object per row, index dropped."""
    columns = [_key(c) for c in frame.columns]
    if len(set(columns)) != len(columns):
        raise Refused("a DataFrame with duplicate column names, which a JSON object cannot carry; "
                      "rename them (df.columns = [...])")
    rows = frame.itertuples(index=False, name=None)
    return _list(rows, True, room, lambda row, missing, left: _object(zip(columns, row), missing, left, str_keys=False))


def _array(array, np, room):
    kind = array.dtype.kind
    if kind in "biuU":  # bool, int, uint, str: tolist() gives Python's own, nested as the array
        return array.tolist()
    if kind == "f":
        if np.isfinite(array).all():
            return array.tolist()
        return jsonable(array.tolist(), True, room)
    if array.ndim == 0:
        return jsonable(array[()], True, room)
    # Object arrays, and datetime64, which tolist() would turn into integers for some units.
    return _list(array, True, room)


def _numpy_scalar(value, np):
    if isinstance(value, np.timedelta64):  # before integer: numpy makes it one
        raise Refused(_refusal(value, np, sys.modules.get("pandas")))
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, np.str_):
        return str(value)
    if isinstance(value, np.datetime64):
        return _datetime64(value, np)
    raise Refused(_refusal(value, np, sys.modules.get("pandas")))


def _datetime64(value, np):
    """ISO 8601 as pandas' Timestamp.isoformat() writes it; a day (or coarser) unit as a date."""
    if np.isnat(value):
        return None
    unit = np.datetime_data(value.dtype)[0]
    if unit in ("Y", "M", "W", "D"):
        return str(np.datetime_as_string(value))
    text = str(np.datetime_as_string(value, unit="s" if unit in ("h", "m") else unit))
    head, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0")
    if not fraction:
        return head
    return f"{head}.{fraction.ljust(6 if len(fraction) <= 6 else 9, '0')}"


def _iso(value):
    """datetime, date and time (pandas' Timestamp is a datetime) as ISO 8601, or None."""
    dt = sys.modules.get("datetime")
    if dt is not None and isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return None


def _key(label):
    """An index label or column name as an object key: str(label), as pandas' to_json writes it,
    but a timestamp in the ISO form its values take."""
    if isinstance(label, str):
        return str(label)
    np = sys.modules.get("numpy")
    if np is not None and isinstance(label, np.datetime64):
        stamp = _datetime64(label, np)
    else:
        stamp = _iso(label) if label == label else None  # NaT is a datetime, and unequal to itself
    return stamp if stamp is not None else str(label)


def _refusal(value, np, pd):
    name = type(value).__name__
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return f"{article} {name}, which JSON cannot carry; {_hint(value, np, pd)}"


def _hint(value, np, pd):
    dt, decimal = sys.modules.get("datetime"), sys.modules.get("decimal")
    if isinstance(value, (set, frozenset)):
        return "return a list"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "return text instead (e.g. .decode() or base64)"
    if isinstance(value, complex) or (np is not None and isinstance(value, np.complexfloating)):
        return "return its .real and .imag as two numbers"
    if dt is not None and isinstance(value, dt.timedelta):  # pandas' Timedelta is one
        return "return a number of seconds (.total_seconds()) or str() of it"
    if np is not None and isinstance(value, np.timedelta64):
        return "return a number of seconds (td / np.timedelta64(1, 's')) or str() of it"
    if decimal is not None and isinstance(value, decimal.Decimal):
        return "return float() or str() of it"
    if pd is not None and isinstance(value, (pd.Index, pd.api.extensions.ExtensionArray)):
        return "return .tolist()"
    if isinstance(value, range) or hasattr(type(value), "__next__"):
        return "return a list (list(...))"
    return "return a str, number, bool, None, list or dict made from it"

# Loaded by schemathesis (SCHEMATHESIS_HOOKS, scripts/fuzz.sh). The document says the form's `file`
# part is text/plain (its encoding): a file of UTF-8 text. Schemathesis has no strategy of its own
# for that media type and would send any bytes; this one sends UTF-8 text, as the document asks.
from hypothesis import strategies as st

import schemathesis

MAX_EXACT_INT = 2**53 - 1

schemathesis.openapi.media_type("text/plain", st.text(min_size=1).map(lambda text: text.encode("utf-8")))


def _exact(value):
    """The value with each number the API would refuse made a string: an int beyond ±(2**53 - 1),
    and a whole float beyond it, which schemathesis writes out as an integer too."""
    if isinstance(value, bool):
        return value
    # An int is checked as it is: float() of one past 1e308 would raise.
    if isinstance(value, int) and abs(value) > MAX_EXACT_INT:
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) > MAX_EXACT_INT:
        return str(int(value))
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact(v) for v in value]
    return value


@schemathesis.hook
def map_case(ctx, case):
    """The document says in words, as a schema cannot, that an integer beyond ±(2**53 - 1) is refused,
    by how it is written (api/README.md): 1e300 is taken, 10**300 written out is not. Such numbers
    are sent as strings, so that every request sent is one the API must take. (A body hook does not
    see the form's JSON parts.)"""
    if isinstance(case.body, dict):
        case.body = _exact(case.body)
    return case

# Loaded by schemathesis (SCHEMATHESIS_HOOKS, scripts/fuzz.sh). The document says the form's `file`
# part is text/plain (its encoding): a file of UTF-8 text. Schemathesis has no strategy of its own
# for that media type and would send any bytes; this one sends UTF-8 text, as the document asks.
from hypothesis import strategies as st

import schemathesis

schemathesis.openapi.media_type("text/plain", st.text(min_size=1).map(lambda text: text.encode("utf-8")))

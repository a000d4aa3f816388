// JavaScript reads every JSON number as a double, so an integer past 2^53 - 1 comes out rounded:
// 12345678901234567890 becomes 12345678901234567000. The runner refuses such integers in a result
// (images/runner/outcome.py); this finds them in a run's inputs, so that those are refused with the
// reason rather than changed on the way to the script.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

const isDigit = (c: number) => c >= ZERO && c <= NINE;
// 2^53 has 16 digits: text without 16 digits in a row holds no integer that JSON readers round.
const SIXTEEN_DIGITS = /\d{16}/;

/** Where the string that starts at `start` (its opening quote) ends: the index of its closing quote. */
function endOfString(text: string, start: number): number {
  let i = start + 1;
  for (;;) {
    const quote = text.indexOf('"', i);
    if (quote === -1) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return quote;
    i = quote + 1;
  }
}

/** The first integer literal (no fraction, no exponent) in valid JSON text that lies beyond
 * ±(2^53 - 1), as written; undefined when there is none. */
export function firstInexactInteger(text: string): string | undefined {
  if (!SIXTEEN_DIGITS.test(text)) return undefined;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = endOfString(text, i);
    } else if (c === MINUS || isDigit(c)) {
      let end = i + 1;
      while (end < text.length && isDigit(text.charCodeAt(end))) end += 1;
      const literal = text.slice(i, end);
      const next = text[end];
      if (next === "." || next === "e" || next === "E") {
        while (end < text.length && /[-+.eE0-9]/.test(text[end]!)) end += 1;
      } else if (!Number.isSafeInteger(Number(literal))) {
        return literal;
      }
      i = end - 1;
    }
  }
  return undefined;
}

// Longer literals are shown cut, so that an answer stays short whatever was sent.
const SHOWN_DIGITS = 40;

/** Why an integer literal cannot be taken, for an error message. */
export function inexactIntegerReason(literal: string): string {
  const shown = literal.length > SHOWN_DIGITS ? `${literal.slice(0, SHOWN_DIGITS)}… (${literal.replace("-", "").length} digits)` : literal;
  const read = Number(literal);
  const becomes = Number.isFinite(read) ? `round (to ${read})` : "cannot hold at all";
  return `the integer ${shown} is beyond ±${Number.MAX_SAFE_INTEGER} (2^53 - 1), which JSON readers such as JavaScript's ${becomes}; send it as a string`;
}

/** Whether a value JSON.parse made may hold an integer it rounded: a whole number beyond
 * ±(2^53 - 1), which may as well have been written with an exponent (the text tells). */
export function mayHoldInexactInteger(value: unknown): boolean {
  if (typeof value === "number") return Number.isInteger(value) && !Number.isSafeInteger(value);
  if (typeof value !== "object" || value === null) return false;
  return (Array.isArray(value) ? value : Object.values(value)).some(mayHoldInexactInteger);
}

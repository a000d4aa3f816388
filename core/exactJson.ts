// JavaScript reads every JSON number as a double, so an integer a double cannot hold exactly comes
// out changed (12345678901234567890 becomes 12345678901234567168; most integers past 2^53 - 1 are
// such), and a number past the largest double becomes Infinity, which JSON writes as null. This
// finds such numbers in a run's inputs, so that those are refused with the reason rather than
// changed on the way to the script. The runner refuses integers past 2^53 - 1 in a result
// (images/runner/outcome.py).

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

const isDigit = (c: number) => c >= ZERO && c <= NINE;
// A double holds every integer of up to 15 digits, and every number whose exponent has fewer than
// 3 digits: text with neither 16 digits in a row nor such an exponent holds no number to refuse.
const MAY_CHANGE = /\d{16}|[eE][-+]?\d{3}/;

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

/** Whether JSON.parse changes the number a literal writes: an integer literal (no fraction, no
 * exponent) a double does not hold exactly, or any literal past the largest double. */
function changedByParsing(literal: string, integer: boolean): boolean {
  const read = Number(literal);
  if (!Number.isFinite(read)) return true;
  return integer && !Number.isSafeInteger(read) && BigInt(literal) !== BigInt(read);
}

/** The first number literal in valid JSON text that JSON.parse changes, as written; undefined
 * when there is none. */
export function firstInexactNumber(text: string): string | undefined {
  if (!MAY_CHANGE.test(text)) return undefined;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = endOfString(text, i);
    } else if (c === MINUS || isDigit(c)) {
      let end = i + 1;
      while (end < text.length && isDigit(text.charCodeAt(end))) end += 1;
      const integer = !/[.eE]/.test(text[end] ?? "");
      while (end < text.length && /[-+.eE0-9]/.test(text[end]!)) end += 1;
      const literal = text.slice(i, end);
      if (changedByParsing(literal, integer)) return literal;
      i = end - 1;
    }
  }
  return undefined;
}

// Longer literals are shown cut, so that an answer stays short whatever was sent.
const SHOWN_DIGITS = 40;

/** Why a number literal firstInexactNumber found cannot be taken, for an error message. */
export function inexactNumberReason(literal: string): string {
  const shown = literal.length > SHOWN_DIGITS ? `${literal.slice(0, SHOWN_DIGITS)}… (${literal.replace(/^-/, "").length} characters)` : literal;
  const read = Number(literal);
  if (!Number.isFinite(read)) {
    return `the number ${shown} would become null: JSON readers such as JavaScript's read numbers as doubles, `
      + `which end at ±${Number.MAX_VALUE}; send it as a string`;
  }
  return `the integer ${shown} would become ${read}: JSON readers such as JavaScript's read numbers as doubles, `
    + `which hold every integer up to ±${Number.MAX_SAFE_INTEGER} (2^53 - 1) but not every one past it; send it as a string`;
}

/** Whether a value JSON.parse made may hold a number it changed: a whole number beyond
 * ±(2^53 - 1), which may as well have been written exactly (the text tells). Level by level, not
 * by recursion: a value may nest thousands deep. */
export function mayHoldInexactInteger(value: unknown): boolean {
  const waiting = [value];
  while (waiting.length > 0) {
    const next = waiting.pop();
    if (typeof next === "number" && Number.isInteger(next) && !Number.isSafeInteger(next)) return true;
    if (typeof next === "object" && next !== null) for (const inner of Array.isArray(next) ? next : Object.values(next)) waiting.push(inner);
  }
  return false;
}

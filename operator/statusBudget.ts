// A ScriptRun lives in etcd, which refuses objects above ~1.5 MiB. The outcome of a run (result,
// stdout, stderr, traceback) must fit beside the spec, so it gets a byte budget: the result whole or
// not at all (a cut JSON value is a different value), the text fields cut, marked truncated.
import type { RunError } from "../crds/schema.js";

export interface Output {
  result?: unknown;
  stdout?: string;
  stderr?: string;
  stdoutTruncated?: boolean;
  stderrTruncated?: boolean;
  traceback?: string;
}

export interface Fitted extends Output {
  /** Set when the result alone exceeds the budget and was dropped. */
  resultBytes?: number;
}

// A traceback is read by people; past this only its end (the exception) is worth keeping.
const MAX_TRACEBACK_BYTES = 64 * 1024;
// An error's message, each suggestion, and how many of them and of the available functions are
// kept: a script controls all of them (an exception message of megabytes), and the status must fit.
const MAX_MESSAGE_BYTES = 16 * 1024;
const MAX_SUGGESTION_BYTES = 1024;
const MAX_LIST_ITEMS = 100;

// The apiserver stores a custom resource as Go's encoding/json writes it, which escapes HTML's
// <, > and & (1 byte each in JSON.stringify's form) and U+2028, U+2029 (3 bytes) as \u003c and the
// like, 6 bytes each: a megabyte of printed HTML is six in etcd.
const LESS = 0x3c;
const GREATER = 0x3e;
const AMPERSAND = 0x26;
const LINE_SEPARATOR = 0x2028;
const PARAGRAPH_SEPARATOR = 0x2029;

/** Bytes the value takes in the stored JSON. */
export function jsonBytes(value: unknown): number {
  if (value === undefined) return 0;
  const json = JSON.stringify(value);
  let bytes = Buffer.byteLength(json, "utf8");
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === LESS || c === GREATER || c === AMPERSAND) bytes += 5;
    else if (c === LINE_SEPARATOR || c === PARAGRAPH_SEPARATOR) bytes += 3;
  }
  return bytes;
}

/** The longest prefix (or suffix, `fromEnd`) of `text` whose JSON form fits in `maxBytes`. */
export function cutToBytes(text: string, maxBytes: number, fromEnd = false): string {
  if (jsonBytes(text) <= maxBytes) return text;
  const piece = (n: number) => (fromEnd ? text.slice(text.length - n) : text.slice(0, n));
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (jsonBytes(piece(mid)) <= maxBytes) lo = mid;
    else hi = mid - 1;
  }
  let cut = piece(lo);
  // Never leave half of a surrogate pair at the cut.
  if (!fromEnd && /[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  if (fromEnd && /^[\uDC00-\uDFFF]/.test(cut)) cut = cut.slice(1);
  return cut;
}

/** The output cut to `budget` bytes: result first, then traceback, stdout, stderr. */
export function fitOutput(output: Output, budget: number): Fitted {
  const fitted: Fitted = { ...output };
  let left = Math.max(0, budget);
  const resultBytes = jsonBytes(output.result);
  if (resultBytes > left) {
    delete fitted.result;
    fitted.resultBytes = resultBytes;
  } else {
    left -= resultBytes;
  }
  if (output.traceback !== undefined) {
    fitted.traceback = cutToBytes(output.traceback, Math.min(left, MAX_TRACEBACK_BYTES), true);
    left -= jsonBytes(fitted.traceback);
  }
  // Each stream half of what is left, unless the other needs less (as the harness fits its envelope):
  // a short stderr, where warnings and tracebacks go, is kept whole beside a flood on stdout.
  const needs = { stdout: output.stdout === undefined ? 0 : jsonBytes(output.stdout), stderr: output.stderr === undefined ? 0 : jsonBytes(output.stderr) };
  const shares = { stdout: Math.max(Math.floor(left / 2), left - needs.stderr), stderr: Math.max(Math.floor(left / 2), left - needs.stdout) };
  for (const [field, flag] of [["stdout", "stdoutTruncated"], ["stderr", "stderrTruncated"]] as const) {
    const text = output[field];
    if (text === undefined) continue;
    const cut = cutToBytes(text, shares[field]);
    fitted[field] = cut;
    if (cut.length < text.length) fitted[flag] = true;
  }
  return fitted;
}

/** `text` within `maxBytes`, saying how much was cut. */
function clipBytes(text: string, maxBytes: number): string {
  if (jsonBytes(text) <= maxBytes) return text;
  const marker = ` … (cut from ${Buffer.byteLength(text, "utf8")} bytes)`;
  return `${cutToBytes(text, maxBytes - jsonBytes(marker))}${marker}`;
}

/** An error's texts and lists cut to sizes that always fit a status (the traceback goes with the output). */
export function fitError(error: RunError): RunError {
  const list = (items: string[] | undefined) => (items ?? []).slice(0, MAX_LIST_ITEMS).map((s) => clipBytes(s, MAX_SUGGESTION_BYTES));
  return {
    ...error,
    message: clipBytes(error.message, MAX_MESSAGE_BYTES),
    suggestions: list(error.suggestions),
    availableFunctions: list(error.availableFunctions),
  };
}

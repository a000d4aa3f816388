// The names of the runs the API creates: `run-` and 12 base-32 characters (60 bits), random, or
// derived (an Idempotency-Key's run) from a hash.
import { randomBytes } from "node:crypto";

const ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

/** The run name the first 12 bytes of `bytes` spell. */
export function runNameOf(bytes: Uint8Array): string {
  return `run-${[...bytes.subarray(0, 12)].map((b) => ALPHABET[b % 32]).join("")}`;
}

/** A random run name. */
export function newRunName(): string {
  return runNameOf(randomBytes(12));
}

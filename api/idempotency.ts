// Idempotency-Key on POST /execute and POST /runs: a retry with the same key returns the same run
// instead of starting a second one, for as long as that run exists, across API restarts. Nothing
// is stored in the API: the run's name is derived from the namespace, the caller and the key, so
// a retry's create finds the first one's run (409). The run found is answered only if its spec is
// the one asked for: the same key with another request is refused (422) rather than answered with
// a run that is not the one asked for. The spec itself is compared, not a mark on the run: whoever
// may create runs in the namespace and knows a caller's name and key could make a run of that name
// first, with any mark on it, and its outcome would be answered as the caller's own.
import { createHash } from "node:crypto";
import { ScriptRunSpecSchema } from "../crds/schema.js";
import { ApiError, invalid } from "./errors.js";
import { runNameOf } from "./runNames.js";

export const IDEMPOTENCY_HEADER = "Idempotency-Key";

/** The request's Idempotency-Key as sent, or undefined when it sent none: an empty one is sent, and
 * refused, not taken for none (the caller would think itself protected from running twice). */
export function idempotencyKeyOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const value = headers[IDEMPOTENCY_HEADER.toLowerCase()];
  return Array.isArray(value) ? value.join(", ") : value;
}
export const IDEMPOTENCY_ANNOTATION = "scriptrun.dev/idempotency-digest";
/** Whether `key` is one: printable ASCII without spaces, as the IETF draft's examples (UUIDs,
 * random tokens) are. The CLI checks its --idempotency-key with it before anything is sent. */
export const isIdempotencyKey = (key: string): boolean => /^[\x21-\x7e]{1,255}$/.test(key);

export interface Idempotency {
  /** The run's name: the same for the same namespace, caller and key. */
  name: string;
  /** sha256 of the spec asked for, its defaults filled in (specDigest). */
  digest: string;
  /** The request's digest as API versions before the spec was compared wrote it on the run, and
   * check it (the spec sent, its strings as they are): written still, so that a retry that reaches
   * such a replica during a rolling upgrade finds its run. */
  mark: string;
}

/** A string as the apiserver stores it: a lone UTF-16 surrogate (which JSON can spell) made U+FFFD. */
const stored = (text: string): string => (text as string & { toWellFormed(): string }).toWellFormed();

/** JSON with object keys sorted, so that the same request always has the same digest; each string
 * and key taken through `as` first (the last of keys that become one kept), `stored` to take them
 * as the apiserver keeps them. */
function canonical(value: unknown, as: (text: string) => string): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v, as)).join(",")}]`;
  if (typeof value === "string") return JSON.stringify(as(value));
  if (value !== null && typeof value === "object") {
    const members = new Map<string, unknown>();
    for (const [k, v] of Object.entries(value)) if (v !== undefined) members.set(as(k), v);
    return `{${[...members.keys()].sort().map((k) => `${JSON.stringify(k)}:${canonical(members.get(k), as)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/** sha256 of what a run's spec asks for, with the defaults the CRD fills in (mode, entrypoint)
 * filled in, so the spec asked for and the spec stored compare equal. Not its TTL: the API's
 * configuration sets that, not the caller, and replicas or a change of it may differ. A spec that
 * is none is taken as it is. */
function specDigest(spec: unknown): string {
  const parsed = ScriptRunSpecSchema.safeParse(spec);
  if (!parsed.success) return sha256(canonical(spec, stored));
  const { ttlSecondsAfterFinished: _set, ...asked } = parsed.data;
  return sha256(canonical(asked, stored));
}

/** The run a key names, or undefined without a key; 400 for a key that is not one. */
export function idempotency(key: string | undefined, namespace: string, caller: string, spec: unknown): Idempotency | undefined {
  if (key === undefined) return undefined;
  if (!isIdempotencyKey(key)) throw invalid(`${IDEMPOTENCY_HEADER} must be 1 to 255 printable ASCII characters without spaces`);
  const hash = createHash("sha256").update(`${namespace}\n${caller}\n${key}`).digest();
  return { name: runNameOf(hash), digest: specDigest(spec), mark: sha256(canonical(spec, (text) => text)) };
}

/** 422 when the run found under the key has another spec than the one asked for. */
export function assertSameRequest(found: { spec?: unknown }, idem: Idempotency, key: string): void {
  if (specDigest(found.spec) !== idem.digest) {
    throw new ApiError(422, "idempotency_key_reused",
      `${IDEMPOTENCY_HEADER} ${key} was already used for another request here; use a new key for a new request`);
  }
}

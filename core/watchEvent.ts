// A watch event's JSON parsed without its object's metadata.managedFields. Nothing here reads
// them (the caches drop them, watchedCache.ts), and they are the costliest part of an event to
// parse: some 40% of the bytes of a runner pod's or a ScriptRun's event, nearly all of them object
// keys ("f:spec", "k:{\"name\":\"runner\"}"), each looked up in V8's string table. Under make
// scale, parsing watch events was the largest item of the controller's profile (8.5% of its CPU).
//
// The member is found with a few native searches, by what the apiserver writes: compact JSON (no
// whitespace, even for ?pretty), the object's members in a fixed order (a Go struct's, or sorted
// for a custom resource), metadata with ObjectMeta's members only, and managedFields as the field
// manager encodes them. A quote inside a string is escaped, so a quote that follows a comma opens
// a string, and one followed by a letter cannot close one: a `]` followed by `,"` and a letter is
// outside any string.
// - The object's `metadata` is the first member named so, at depth 2 (only `type`, `kind` and
//   `apiVersion`, strings, come before it).
// - It ends at the first `},"spec":{` after it: no member of ObjectMeta has a member or map key
//   named spec with an object value. Pods, namespaces and the operator's resources (whose CRDs
//   require spec, an object) have a spec next; an event whose object turns out to have no spec
//   object is parsed again, whole.
// - `"managedFields":[` before that is metadata's own (its other members hold strings, maps and
//   lists of strings, and owner references), so a user's kwargs or result of that name, in the
//   spec or the status, is never taken.
// - Its entries hold no lists, so the list ends at its first `]` outside a string: the one
//   followed by `,"` and a letter (metadata's next key), or the one just before metadata's end.
// Anything else, and the event is parsed whole, as it is when what is left does not parse.

const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

const METADATA = Buffer.from('"metadata":{');
const MANAGED_FIELDS = Buffer.from('"managedFields":[');
const METADATA_END = Buffer.from('},"spec":{');

/** Whether `c` may begin a key: a letter. */
function keyStart(c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a));
}

/** Object and array depth at `end`, reading from the start (strings skipped), or -1 when a string
 * is still open there. */
function depthAt(bytes: Buffer, end: number): number {
  let depth = 0;
  for (let i = 0; i < end; i++) {
    const c = bytes[i];
    if (c === QUOTE) {
      for (i++; i < end && bytes[i] !== QUOTE; i++) if (bytes[i] === BACKSLASH) i++;
      if (i >= end) return -1;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
    else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
  }
  return depth;
}

/** Where the member `"managedFields":[…]` of the event's object's metadata is, with one comma
 * beside it; undefined when there is none, or the text is not as expected. */
export function managedFieldsSpan(bytes: Buffer): [number, number] | undefined {
  const metadata = bytes.indexOf(METADATA);
  if (metadata < 0 || depthAt(bytes, metadata) !== 2) return undefined;
  const end = bytes.indexOf(METADATA_END, metadata);
  const member = bytes.indexOf(MANAGED_FIELDS, metadata);
  if (end < 0 || member < 0 || member > end) return undefined;
  for (let close = bytes.indexOf(CLOSE_ARRAY, member + MANAGED_FIELDS.length - 1); close >= 0 && close < end;
    close = bytes.indexOf(CLOSE_ARRAY, close + 1)) {
    if (close === end - 1) return bytes[member - 1] === COMMA ? [member - 1, close + 1] : [member, close + 1];
    if (bytes[close + 1] === COMMA && bytes[close + 2] === QUOTE && keyStart(bytes[close + 3])) return [member, close + 2];
  }
  return undefined;
}

/** The event's JSON, parsed, its object's metadata without managedFields. Throws as JSON.parse does
 * (what is inside the managedFields left out is not read). */
export function parseWatchEvent(bytes: Buffer): unknown {
  const span = managedFieldsSpan(bytes);
  if (span !== undefined) {
    try {
      // The span's ends are ASCII: no UTF-8 character is cut.
      const event = JSON.parse(bytes.toString("utf8", 0, span[0]) + bytes.toString("utf8", span[1])) as { object?: { spec?: unknown } };
      // With an object spec after its metadata, the end found was metadata's own.
      const spec = event.object?.spec;
      if (typeof spec === "object" && spec !== null && !Array.isArray(spec)) return event;
    } catch {
      // Not as expected after all: read it whole.
    }
  }
  return JSON.parse(bytes.toString("utf8"));
}

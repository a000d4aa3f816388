// parseWatchEvent: the object JSON.parse gives, less the object's metadata.managedFields, and
// never anything else taken, however the rest of the event is written.
import assert from "node:assert/strict";
import { managedFieldsSpan, parseWatchEvent } from "./watchEvent.js";

const MANAGED = [{
  manager: "scriptrun-controller", operation: "Update", apiVersion: "v1", time: "2026-12-02T12:23:14Z", fieldsType: "FieldsV1",
  fieldsV1: { "f:metadata": { "f:labels": { ".": {}, "f:app": {} } }, "f:spec": { "f:containers": { 'k:{"name":"runner"}': { ".": {}, "f:args": {} } } } },
}, { manager: "kwok", operation: "Update", apiVersion: "v1", subresource: "status", fieldsType: "FieldsV1", fieldsV1: { "f:status": { "f:phase": {} } } }];

/** The event parsed whole, and without its object's managedFields. */
function readings(text: string): { whole: unknown; without: unknown } {
  const without = JSON.parse(text) as { object?: { metadata?: Record<string, unknown> } };
  if (without.object?.metadata) delete without.object.metadata.managedFields;
  return { whole: JSON.parse(text), without };
}

/** parseWatchEvent leaves the object's managedFields out, having found them. */
function leavesOut(event: unknown): void {
  leavesOutOf(JSON.stringify(event));
}

function leavesOutOf(text: string): void {
  assert.ok(managedFieldsSpan(Buffer.from(text)), `no managedFields found in ${text}`);
  assert.deepEqual(parseWatchEvent(Buffer.from(text)), readings(text).without, text);
}

/** parseWatchEvent gives the event whole or without its managedFields: nothing else is taken. */
function takesNothingElse(event: unknown): void {
  const text = JSON.stringify(event);
  const parsed = parseWatchEvent(Buffer.from(text));
  const { whole, without } = readings(text);
  try {
    assert.deepEqual(parsed, without);
  } catch {
    assert.deepEqual(parsed, whole, text);
  }
}

const pod = (metadata: Record<string, unknown>, spec: unknown = { containers: [{ name: "runner" }] }, status: unknown = { phase: "Running" }) =>
  ({ type: "MODIFIED", object: { kind: "Pod", apiVersion: "v1", metadata, spec, status } });

describe("parseWatchEvent", () => {
  it("leaves out a pod's managedFields, the last member of its metadata", () => {
    leavesOut(pod({ name: "run-a-runner", namespace: "team-a", labels: { app: "x" }, annotations: { "scriptrun.dev/request": '{"script":"print(\\"hi\\")"}' },
      ownerReferences: [{ apiVersion: "scriptrun.dev/v1", kind: "ScriptRun", name: "run-a", uid: "u1", controller: true }], managedFields: MANAGED }));
  });

  it("leaves out a ScriptRun's managedFields, a member in the middle of its sorted metadata", () => {
    const text = JSON.stringify({
      type: "ADDED",
      object: {
        apiVersion: "scriptrun.dev/v1", kind: "ScriptRun",
        metadata: { creationTimestamp: "2026-12-02T12:23:14Z", finalizers: ["a/b"], generation: 1, managedFields: MANAGED, name: "run-a", namespace: "team-a", uid: "u1" },
        spec: { script: "def main():\n    return 1\n", kwargs: { managedFields: [1] } },
        status: { result: { managedFields: ["x"] } },
      },
    });
    const [from, to] = managedFieldsSpan(Buffer.from(text))!;
    assert.equal(text.slice(from, to), `"managedFields":${JSON.stringify(MANAGED)},`);
    leavesOut(JSON.parse(text));
  });

  it("leaves out managedFields as metadata's first, only or empty member", () => {
    leavesOut(pod({ managedFields: MANAGED, name: "p" }));
    leavesOut(pod({ managedFields: MANAGED }));
    leavesOut(pod({ name: "p", managedFields: [] }));
  });

  it("keeps members of that name anywhere but in the object's metadata", () => {
    const spec = { script: "x", kwargs: { managedFields: [{ a: 1 }], metadata: { managedFields: ["keep"] } } };
    // Without managedFields of its own (a client may strip them), the first one is the user's.
    const bare = { type: "ADDED", object: { apiVersion: "scriptrun.dev/v1", kind: "ScriptRun", metadata: { name: "run-a" }, spec } };
    assert.equal(managedFieldsSpan(Buffer.from(JSON.stringify(bare))), undefined);
    assert.deepEqual(parseWatchEvent(Buffer.from(JSON.stringify(bare))), bare);
    leavesOut(pod({ annotations: { managedFields: '"managedFields":[1]' }, name: "p", managedFields: MANAGED }, spec));
    // Metadata that is not the object's own is never looked into.
    const nested = { type: "ADDED", object: { kind: "X", spec: { metadata: { managedFields: MANAGED }, spec: {} } } };
    assert.equal(managedFieldsSpan(Buffer.from(JSON.stringify(nested))), undefined);
    assert.deepEqual(parseWatchEvent(Buffer.from(JSON.stringify(nested))), nested);
  });

  it("reads strings with escaped quotes, backslashes, brackets and other scripts whole", () => {
    const tricky = ["\\", '\\"', '"]}', '{"managedFields":[', '\\\\"],"x', '],"spec":{', "naïve 日本語 🐍", "\u0000\n\t"];
    leavesOut(pod(
      { name: "p", annotations: Object.fromEntries(tricky.map((t, i) => [`a${i}`, t])), finalizers: tricky, managedFields: [{ manager: tricky.join("") }] },
      { containers: [{ name: tricky.join("") }] }, { message: tricky.join("") }));
  });

  it("leaves out the managedFields of the other kinds it watches: namespaces, ScriptRuntimes", () => {
    leavesOut({ type: "ADDED", object: { kind: "Namespace", apiVersion: "v1", metadata: { name: "team-a", labels: { "kubernetes.io/metadata.name": "team-a" }, managedFields: MANAGED }, spec: { finalizers: ["kubernetes"] }, status: { phase: "Active" } } });
    leavesOut({ type: "MODIFIED", object: { apiVersion: "scriptrun.dev/v1", kind: "ScriptRuntime", metadata: { generation: 2, managedFields: MANAGED, name: "python", uid: "u" }, spec: { image: "runner:1" }, status: {} } });
  });

  it("reads what Go's encoder writes: HTML and line-separator escapes, a manager name with a bracket", () => {
    const managed = '[{"manager":"x],\\u003cy\\u003e\\u0026\\u2028","operation":"Update","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:annotations":{"f:a\\u003cb":{}}}}}]';
    leavesOutOf(`{"type":"MODIFIED","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p","annotations":{"a\\u003cb":"\\u0026],\\"x"},"managedFields":${managed}},"spec":{"containers":[]},"status":{}}}`);
    leavesOutOf(`{"type":"ADDED","object":{"apiVersion":"scriptrun.dev/v1","kind":"ScriptRun","metadata":{"managedFields":${managed},"name":"r"},"spec":{"kwargs":{"\\u003c":"x"}}}}`);
  });

  it("reads whole an object with no spec after its metadata, whatever its status holds", () => {
    for (const status of [{ result: { a: { managedFields: [1] }, spec: {} } }, { spec: { managedFields: [2] } }]) {
      const event = { type: "MODIFIED", object: { apiVersion: "scriptrun.dev/v1", kind: "ScriptRun", metadata: { name: "r" }, status } };
      assert.deepEqual(parseWatchEvent(Buffer.from(JSON.stringify(event))), event);
    }
    const specless = { type: "MODIFIED", object: { kind: "Pod", apiVersion: "v1", metadata: { name: "p", managedFields: MANAGED }, status: { x: { spec: { managedFields: [3] } } } } };
    assert.deepEqual(parseWatchEvent(Buffer.from(JSON.stringify(specless))), specless);
  });

  it("parses an event with no managedFields to leave out as JSON.parse does", () => {
    for (const event of [
      { type: "ERROR", object: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", code: 410 } },
      { type: "BOOKMARK", object: { kind: "Pod", metadata: { resourceVersion: "12" } } },
      pod({ name: "p", deletionGracePeriodSeconds: 0, labels: {} }),
    ]) assert.deepEqual(parseWatchEvent(Buffer.from(JSON.stringify(event))), event);
  });

  describe("on random events", () => {
    let seed = 17;
    const random = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return Math.floor((seed / 2 ** 32) * n);
    };
    const pieces = ["a", '"', "\\", "[", "]", "{", "}", ",", ":", '],"a', '},"spec":{', "managedFields", "metadata", "spec", "é", "🐍"];
    const text = (): string => Array.from({ length: random(6) }, () => pieces[random(pieces.length)]).join("");
    const value = (depth: number, lists = true): unknown => {
      switch (depth > 3 ? random(4) : random(lists ? 6 : 5)) {
        case 0: return text();
        case 1: return random(1000) - 500;
        case 2: return random(2) === 0 ? null : true;
        case 3: return random(3) === 0 ? (lists ? MANAGED : {}) : 1.5;
        case 4: return Object.fromEntries(Array.from({ length: random(4) }, () => [random(4) === 0 ? "managedFields" : text(), value(depth + 1, lists)]));
        default: return Array.from({ length: random(4) }, () => value(depth + 1, lists));
      }
    };
    // ObjectMeta's members: strings, maps of strings, lists of strings (or anything, `loose`).
    const meta = (): unknown => [text, () => ({ [text()]: text(), spec: text() }), () => [text(), text()]][random(3)]!();
    const metadata = (managed: () => unknown, loose = false) => {
      const members: Array<[string, unknown]> = Array.from({ length: random(5) }, (_, j) => [j === 0 ? "name" : `m${text()}`, loose ? value(1) : meta()]);
      members.splice(random(members.length + 1), 0, ["managedFields", managed()]);
      return Object.fromEntries(members);
    };

    it("leaves out managedFields of the apiserver's shape, whatever surrounds them", () => {
      for (let i = 0; i < 500; i++) {
        leavesOut(pod(metadata(() => Array.from({ length: random(3) }, () => ({ manager: text(), fieldsV1: value(2, false) }))), { x: value(1) }, value(1)));
      }
    });

    it("takes nothing else, whatever the event holds", () => {
      for (let i = 0; i < 500; i++) {
        const own = random(4) === 0 ? { name: text() } : metadata(() => value(1), true);
        takesNothingElse({ type: text(), object: random(5) === 0 ? value(1) : { kind: text(), metadata: own, spec: value(1), status: value(1) } });
      }
    });
  });

  it("throws on a line that is not JSON", () => {
    assert.throws(() => parseWatchEvent(Buffer.from('{"type":"ADDED","object":{"metadata":{"managedFields":[],"name":"p"},"spec":{')), SyntaxError);
    assert.throws(() => parseWatchEvent(Buffer.from("not json")), SyntaxError);
  });
});

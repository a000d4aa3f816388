import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { HARD_MAX_SCRIPT_BYTES } from "../crds/schema.js";
import { formatBytes, parseQuantity } from "./quantity.js";
import { MAX_NESTING, MAX_REQUEST_BYTES, resolveRequest, scriptTooLarge } from "./request.js";
import { testLimits } from "./testkit.js";

const config = testLimits();

function refusals(spec: Record<string, unknown>, maxScriptBytes?: number): string[] {
  const resolution = resolveRequest({ script: "def main(): return 1", ...spec }, testLimits({}, maxScriptBytes));
  return resolution.ok ? [] : resolution.reasons;
}

describe("resolving a spec into the harness request", () => {
  it("fills the runtime's defaults where the spec says nothing", () => {
    const resolution = resolveRequest({ script: "def main(): return 1" }, config);
    assert.ok(resolution.ok);
    assert.deepEqual(resolution.request, {
      script: "def main(): return 1", mode: "function", entrypoint: "main", args: [], kwargs: {}, stdin: "",
      timeoutSeconds: 10, resources: { cpu: "500m", memory: "256Mi" }, limits: { pids: 64, outputBytes: 1024 * 1024 },
    });
  });

  it("keeps what the spec asks for within the caps", () => {
    const resolution = resolveRequest({
      script: "x", mode: "script", timeoutSeconds: 300, resources: { cpu: "2", memory: "2Gi" },
      limits: { pids: 1024, outputBytes: 4 * 1024 * 1024 }, args: [1, null], kwargs: { a: { b: null } }, stdin: "in",
    }, config);
    assert.ok(resolution.ok);
    assert.equal(resolution.request.mode, "script");
    assert.deepEqual(resolution.request.resources, { cpu: "2", memory: "2Gi" });
    assert.deepEqual(resolution.request.kwargs, { a: { b: null } });
  });

  it("keeps a keyword argument named __proto__, which a key-by-key copy would drop", () => {
    // As kubectl's run reaches the controller: JSON.parse makes __proto__ an own member.
    const spec = JSON.parse('{"script": "x", "kwargs": {"__proto__": {"a": 1}, "b": 2}, "args": [{"__proto__": 3}]}') as Record<string, unknown>;
    const resolution = resolveRequest(spec, config);
    assert.ok(resolution.ok);
    assert.equal(JSON.stringify(resolution.request.kwargs), '{"__proto__":{"a":1},"b":2}');
    assert.equal(JSON.stringify(resolution.request.args), '[{"__proto__":3}]');
  });

  it("refuses args or kwargs nested past the harness's cap, however deep, before serialising them", () => {
    const nested = (depth: number): unknown => JSON.parse(`${"[".repeat(depth)}${"]".repeat(depth)}`);
    const reason = (key: string) => `${key} holds a value nested more than 100 levels deep (lists and objects inside one another), the most an argument or a result may be`;
    assert.ok(resolveRequest({ script: "x", args: [nested(100)], kwargs: { a: nested(100) } }, config).ok);
    for (const depth of [101, 50_000]) {
      assert.deepEqual(resolveRequest({ script: "x", args: [nested(depth)] }, config), { ok: false, reasons: [reason("args")] });
      assert.deepEqual(resolveRequest({ script: "x", kwargs: { a: { b: nested(depth) } } }, config), { ok: false, reasons: [reason("kwargs")] });
    }
  });

  it("applies the runtime's import policy unless the spec has its own", () => {
    const withDefault = resolveRequest({ script: "x" }, testLimits({ imports: { deny: ["socket"] } }));
    assert.ok(withDefault.ok);
    assert.deepEqual(withDefault.request.imports, { deny: ["socket"] });
    const own = resolveRequest({ script: "x", imports: { allow: ["math"] } }, testLimits({ imports: { deny: ["socket"] } }));
    assert.ok(own.ok);
    assert.deepEqual(own.request.imports, { allow: ["math"] });
  });

  const above: Array<[string, Record<string, unknown>, string]> = [
    ["a timeout", { timeoutSeconds: 301 }, "timeoutSeconds 301 exceeds the maximum of 300 of runtime \"python\""],
    ["CPU", { resources: { cpu: "2500m" } }, "resources.cpu 2500m exceeds the maximum of 2 of runtime \"python\""],
    ["memory", { resources: { memory: "3Gi" } }, "resources.memory 3Gi exceeds the maximum of 2Gi of runtime \"python\""],
    ["pids", { limits: { pids: 5000 } }, "limits.pids 5000 exceeds the maximum of 1024 of runtime \"python\""],
    ["output bytes", { limits: { outputBytes: 5 * 1024 * 1024 } }, "limits.outputBytes 5242880 exceeds the maximum of 4194304 of runtime \"python\""],
  ];
  for (const [what, spec, reason] of above) {
    it(`refuses ${what} above the runtime's maximum instead of lowering it, naming the runtime`, () => {
      assert.deepEqual(refusals(spec), [reason]);
    });
  }

  it("refuses a script above the configured byte cap", () => {
    assert.deepEqual(refusals({ script: "#".repeat(101) }, 100), ["script is 101 bytes; at most 100 are allowed"]);
  });

  it("names every cap a spec breaks at once", () => {
    assert.equal(refusals({ timeoutSeconds: 3000, resources: { memory: "64Gi" } }).length, 2);
  });

  it("refuses zero CPU and memory too small for Python", () => {
    assert.deepEqual(refusals({ resources: { cpu: "0", memory: "1Ki" } }), [
      "resources.cpu must be more than 0", "resources.memory must be at least 1Mi"]);
  });

  it("refuses a request too big for the ConfigMap that carries it", () => {
    const reasons = refusals({ script: "x", stdin: "y".repeat(MAX_REQUEST_BYTES) }, 1024 * 1024);
    assert.equal(reasons.length, 1);
    assert.match(reasons[0]!, /^the request \(script, stdin, args and kwargs\) is \d+ bytes; at most 1047552 fit$/);
  });

  it("refuses a spec the schema rejects, naming the field", () => {
    assert.deepEqual(refusals({ entrypoint: "not valid" }).map((r) => r.split(":")[0]), ["entrypoint"]);
  });
});

describe("Kubernetes quantities", () => {
  it("parse decimal and binary suffixes and exponents", () => {
    assert.equal(parseQuantity("500m"), 0.5);
    assert.equal(parseQuantity("2"), 2);
    assert.equal(parseQuantity("256Mi"), 256 * 2 ** 20);
    assert.equal(parseQuantity("1.5G"), 1.5e9);
    assert.equal(parseQuantity("1e3"), 1000);
    assert.equal(parseQuantity(".5Ki"), 512);
    assert.throws(() => parseQuantity("lots"), /not a Kubernetes quantity/);
  });

  it("are equal however they are spelled", () => {
    for (let milli = 1; milli < 4000; milli++) assert.equal(parseQuantity(`${milli}m`), parseQuantity(String(milli / 1000)), `${milli}m`);
    assert.equal(parseQuantity("1Gi"), parseQuantity("1024Mi"));
  });

  it("format bytes as the shortest exact binary quantity", () => {
    assert.equal(formatBytes(320 * 2 ** 20), "320Mi");
    assert.equal(formatBytes(2 * 2 ** 30), "2Gi");
    assert.equal(formatBytes(1536 * 2 ** 20), "1536Mi");
    assert.equal(formatBytes(1000), "1000");
    assert.equal(formatBytes(1e9 + 0.5), "1000000001");
  });
});

describe("the script-size rule", () => {
  it("refuses a script above the configured byte cap, counting UTF-8 bytes", () => {
    assert.equal(scriptTooLarge("x = 1 # ok", 10), undefined);
    assert.equal(scriptTooLarge("x = '日本語'", 10), "script is 15 bytes; at most 10 are allowed");
    assert.equal(scriptTooLarge("x = '日本語'", 10, "code"), "code is 15 bytes; at most 10 are allowed");
  });

  it("has the same nesting cap as the harness", () => {
    const harness = execFileSync("python3", ["-c", "import outcome; print(outcome.MAX_DEPTH)"],
      { cwd: join(dirname(fileURLToPath(import.meta.url)), "..", "images", "runner"), encoding: "utf8" });
    assert.equal(Number(harness), MAX_NESTING);
  });

  it("has the same hard cap in the harness as in the CRD", () => {
    const harness = execFileSync("python3", ["-c", "import preflight; print(preflight.MAX_SCRIPT_BYTES)"],
      { cwd: join(dirname(fileURLToPath(import.meta.url)), "..", "images", "runner"), encoding: "utf8" });
    assert.equal(Number(harness), HARD_MAX_SCRIPT_BYTES);
  });
});

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { loadCases } from "../test/cases.js";
import { CRD_FILES, type CrdFile, crdPath, renderCrd, scriptRunCrd, toStructural } from "./generate.js";
import { ScriptRunSpecSchema, ScriptRunStatusSchema } from "./schema.js";

const cases = loadCases();

type Node = Record<string, unknown>;

function issuesOf(spec: unknown, schema: z.ZodType = ScriptRunSpecSchema): string[] {
  const parsed = schema.safeParse(spec);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

function crdSchema(): Node {
  const crd = scriptRunCrd() as { spec: { versions: Array<{ schema: { openAPIV3Schema: Node } }> } };
  return crd.spec.versions[0]!.schema.openAPIV3Schema;
}

/** Every node of a schema with its path, for structural checks. */
function* nodes(node: Node, path: string): Generator<[string, Node]> {
  yield [path, node];
  for (const [name, child] of Object.entries((node.properties ?? {}) as Record<string, Node>)) {
    yield* nodes(child, `${path}.${name}`);
  }
  if (node.items) yield* nodes(node.items as Node, `${path}[]`);
}

describe("the ScriptRun CRD", () => {
  for (const file of Object.keys(CRD_FILES) as CrdFile[]) {
    it(`matches the committed ${file} (run \`npm run crds\` after changing the schemas)`, () => {
      assert.equal(readFileSync(crdPath(file), "utf8"), renderCrd(file));
    });
  }

  it("is structural: every node typed or explicitly free-form, no additionalProperties or unions", () => {
    for (const [path, node] of nodes(crdSchema(), "")) {
      assert.ok(node.type !== undefined || node["x-kubernetes-preserve-unknown-fields"] === true, `${path} has no type`);
      for (const key of ["additionalProperties", "anyOf", "oneOf", "allOf", "$schema"]) {
        assert.ok(!(key in node), `${path} has ${key}`);
      }
    }
  });

  it("describes every field of spec and status, so kubectl explain helps", () => {
    const schema = crdSchema() as { properties: Record<string, Node> };
    for (const root of ["spec", "status"]) {
      for (const [path, node] of nodes(schema.properties[root]!, root)) {
        if (path.endsWith("[]")) continue;
        assert.ok(typeof node.description === "string" && node.description.length > 0, `${path} has no description`);
      }
    }
  });

  it("makes the spec immutable with a CEL rule and carries the defaults the apiserver applies", () => {
    const spec = (crdSchema() as { properties: Record<string, Node> }).properties.spec as {
      "x-kubernetes-validations": Array<{ rule: string }>; properties: Record<string, Node>;
    };
    assert.deepEqual(spec["x-kubernetes-validations"].map((v) => v.rule), ["self == oldSelf"]);
    assert.equal(spec.properties.mode!.default, "function");
    assert.equal(spec.properties.entrypoint!.default, "main");
    assert.equal(spec.properties.timeoutSeconds!.maximum, 3600);
  });

  it("keeps a finished run's status with a CEL transition rule", () => {
    const status = (crdSchema() as { properties: Record<string, Node> }).properties.status as { "x-kubernetes-validations": Array<{ rule: string }> };
    assert.deepEqual(status["x-kubernetes-validations"].map((v) => v.rule),
      ["!has(oldSelf.phase) || !(oldSelf.phase in ['Succeeded', 'Failed']) || self == oldSelf"]);
  });

  it("refuses to generate a field the CRD cannot hold", () => {
    const union = z.toJSONSchema(z.object({ v: z.union([z.string(), z.number()]).describe("v") }).describe("x"), { target: "openapi-3.0" });
    assert.throws(() => toStructural(union as Node, "spec"), /spec\.v: 'anyOf'/);
    const map = z.toJSONSchema(z.object({ m: z.record(z.string(), z.unknown()).describe("m") }).describe("x"), { target: "openapi-3.0" });
    assert.throws(() => toStructural(map as Node, "spec"), /spec\.m: a map of arbitrary keys/);
    const typed = z.toJSONSchema(z.object({ m: z.record(z.string(), z.string()).describe("m") }).describe("x"), { target: "openapi-3.0" });
    assert.deepEqual((toStructural(typed as Node, "spec") as { properties: { m: Node } }).properties.m.additionalProperties, { type: "string" });
    const bare = z.toJSONSchema(z.object({ s: z.string() }).describe("x"), { target: "openapi-3.0" });
    assert.throws(() => toStructural(bare as Node, "spec"), /spec\.s: no description/);
  });
});

describe("the ScriptRun spec schema", () => {
  for (const c of cases) {
    it(`accepts the request of case ${c.name}`, () => {
      assert.deepEqual(issuesOf(c.request), []);
    });
  }

  it("fills the defaults: function mode calling main", () => {
    const spec = ScriptRunSpecSchema.parse({ script: "def main(): return 1" });
    assert.equal(spec.mode, "function");
    assert.equal(spec.entrypoint, "main");
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ["an empty script", { script: "" }, /^script: /],
    ["a missing script", {}, /^script: /],
    ["an unknown mode", { script: "x", mode: "eval" }, /^mode: /],
    ["an entrypoint that is no Python name", { script: "x", entrypoint: "1st" }, /^entrypoint: /],
    ["a zero timeout", { script: "x", timeoutSeconds: 0 }, /^timeoutSeconds: /],
    ["a fractional timeout", { script: "x", timeoutSeconds: 1.5 }, /^timeoutSeconds: /],
    ["a timeout above the hard maximum", { script: "x", timeoutSeconds: 3601 }, /^timeoutSeconds: /],
    ["memory that is no quantity", { script: "x", resources: { memory: "lots" } }, /^resources\.memory: /],
    ["a negative cpu", { script: "x", resources: { cpu: "-1" } }, /^resources\.cpu: /],
    ["args that are no array", { script: "x", args: { a: 1 } }, /^args: /],
    ["kwargs that are no object", { script: "x", kwargs: [1] }, /^kwargs: /],
    ["zero pids", { script: "x", limits: { pids: 0 } }, /^limits\.pids: /],
    ["an import name with a dot", { script: "x", imports: { deny: ["os.path"] } }, /^imports\.deny\.0: /],
    ["a negative TTL", { script: "x", ttlSecondsAfterFinished: -1 }, /^ttlSecondsAfterFinished: /],
  ];
  for (const [what, spec, issue] of bad) {
    it(`rejects ${what}, naming the field`, () => {
      const issues = issuesOf(spec);
      assert.ok(issues.some((i) => issue.test(i)), `issues: ${JSON.stringify(issues)}`);
    });
  }
});

describe("the ScriptRun status schema", () => {
  it("accepts a finished run's status", () => {
    const status = {
      phase: "Failed", observedGeneration: 1, summary: "runtime_error: NameError",
      conditions: [{ type: "Finished", status: "True", reason: "RuntimeError", message: "x", lastTransitionTime: "2025-01-01T00:00:00Z" }],
      error: { type: "runtime_error", message: "NameError: x", line: 2, suggestions: [], availableFunctions: [] },
      stdout: "", stderr: "", exitCode: 1, durationMs: 12, sandbox: { backend: "bubblewrap", memory: "cgroup" },
    };
    assert.deepEqual(issuesOf(status, ScriptRunStatusSchema), []);
  });

  it("rejects an error type outside the documented list and a reason that is no CamelCase word", () => {
    const issues = issuesOf({
      error: { type: "oops", message: "x" },
      conditions: [{ type: "Finished", status: "True", reason: "not a word", lastTransitionTime: "2025-01-01T00:00:00Z" }],
    }, ScriptRunStatusSchema);
    assert.ok(issues.some((i) => i.startsWith("error.type")), JSON.stringify(issues));
    assert.ok(issues.some((i) => i.startsWith("conditions.0.reason")), JSON.stringify(issues));
  });
});

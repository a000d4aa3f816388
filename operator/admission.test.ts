import assert from "node:assert/strict";
import type { ScriptRun } from "../crds/schema.js";
import { type RunSlotFacts, planAdmission } from "./admission.js";
import { T0, aRun } from "./testkit.js";

const caps = { maxConcurrentRuns: 2, maxConcurrentRunsPerNamespace: 2 };

function waiting(name: string, createdMs: number, namespace = "default"): RunSlotFacts {
  return { run: aRun(name, {}, { namespace, createdMs }), reserved: false, pod: "none" };
}

function active(name: string, namespace = "default"): RunSlotFacts {
  const run: ScriptRun = { ...aRun(name, {}, { namespace }), status: { phase: "Running", podName: `${name}-runner` } };
  return { run, reserved: false, pod: "live" };
}

function decisions(facts: RunSlotFacts[], limits = caps): Record<string, string> {
  const plan = planAdmission(facts, limits);
  return Object.fromEntries([...plan.decisions].map(([key, d]) => [key.split("/")[1], d.admit ? "admit" : `queued ${d.position}`]));
}

describe("admission under the concurrency caps", () => {
  it("admits waiting runs while there is room, the oldest first", () => {
    assert.deepEqual(decisions([waiting("c", T0 + 3000), waiting("a", T0 + 1000), waiting("b", T0 + 2000)]),
      { a: "admit", b: "admit", c: "queued 1" });
  });

  it("orders runs created in the same second by name", () => {
    assert.deepEqual(decisions([waiting("run-b", T0), waiting("run-a", T0), waiting("run-c", T0)]),
      { "run-a": "admit", "run-b": "admit", "run-c": "queued 1" });
  });

  it("counts runs that hold a pod, a reservation or a recorded pod name against the cap", () => {
    const reserved = { ...waiting("r", T0), reserved: true };
    assert.deepEqual(decisions([reserved, waiting("w1", T0 + 1000), waiting("w2", T0 + 2000)]), { w1: "admit", w2: "queued 1" });
    assert.deepEqual(decisions([active("x"), active("y"), waiting("w", T0)]), { w: "queued 1" });
  });

  it("frees the slot of a finished run once its pod is done, not before", () => {
    const finished = (pod: "live" | "done" | "none"): RunSlotFacts => ({
      run: { ...aRun("f"), status: { phase: "Succeeded", podName: "f-runner" } }, reserved: false, pod,
    });
    const tight = { maxConcurrentRuns: 1, maxConcurrentRunsPerNamespace: 1 };
    assert.deepEqual(decisions([finished("live"), waiting("w", T0)], tight), { w: "queued 1" });
    assert.deepEqual(decisions([finished("done"), waiting("w", T0)], tight), { w: "admit" });
    assert.deepEqual(decisions([finished("none"), waiting("w", T0)], tight), { w: "admit" });
  });

  it("applies the per-namespace cap without holding up other namespaces", () => {
    const limits = { maxConcurrentRuns: 10, maxConcurrentRunsPerNamespace: 1 };
    assert.deepEqual(decisions([waiting("a1", T0, "a"), waiting("a2", T0 + 1000, "a"), waiting("b1", T0 + 2000, "b")], limits),
      { a1: "admit", a2: "queued 1", b1: "admit" });
  });

  it("numbers the queue in creation order across namespaces", () => {
    const plan = planAdmission([active("x"), active("y"), waiting("late", T0 + 5000, "b"), waiting("early", T0 + 1000, "a")], caps);
    assert.deepEqual([...plan.decisions.keys()], ["a/early", "b/late"]);
    assert.deepEqual(decisions([active("x"), active("y"), waiting("late", T0 + 5000, "b"), waiting("early", T0 + 1000, "a")]),
      { early: "queued 1", late: "queued 2" });
    assert.equal(plan.held, 2);
  });

  it("leaves out runs that are finished, refused or being deleted", () => {
    const refused: RunSlotFacts = { ...waiting("refused", T0), run: { ...aRun("refused"), status: {
      conditions: [{ type: "Accepted", status: "False", reason: "SyntaxError", lastTransitionTime: "2025-06-01T12:00:00Z" }] } } };
    const deleting: RunSlotFacts = { ...waiting("deleting", T0), run: { ...aRun("deleting"), metadata: { ...aRun("deleting").metadata, deletionTimestamp: new Date(T0) } } };
    assert.deepEqual(decisions([refused, deleting, waiting("w", T0 + 1000)]), { w: "admit" });
  });
});

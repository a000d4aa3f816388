// How far a followed run has come, from snapshots that can come out of order: each step told once,
// never an older one after a newer.
import assert from "node:assert/strict";
import { API_VERSION, KIND, type ScriptRun, type ScriptRunStatus } from "../crds/schema.js";
import { type Seen, progressOf } from "./runProgress.js";

const run = (status?: ScriptRunStatus): ScriptRun =>
  ({ apiVersion: API_VERSION, kind: KIND, metadata: { name: "run-a", namespace: "default" }, spec: { script: "x" }, ...(status ? { status } : {}) });

/** The phases (and places in the queue) told for the snapshots, in order. */
function told(snapshots: ScriptRun[]): string[] {
  let seen: Seen = {};
  return snapshots.flatMap((snapshot) => {
    const next = progressOf(seen, snapshot);
    if (!next) return [];
    seen = next.seen;
    return next.news ? [`${next.seen.phase}${next.seen.queuePosition ?? ""}`] : [];
  });
}

describe("how far a followed run has come", () => {
  it("tells each step once: Pending, each place in the queue, Pending with its pod, Running, finished", () => {
    assert.deepEqual(told([
      run(), run(), run({ phase: "Queued", queuePosition: 3 }), run({ phase: "Queued", queuePosition: 1 }), run({ phase: "Queued", queuePosition: 1 }),
      run({ phase: "Pending", podName: "p" }), run({ phase: "Running", podName: "p" }), run({ phase: "Failed", podName: "p" }),
    ]), ["Pending", "Queued3", "Queued1", "Pending", "Running", "Failed"]);
  });

  it("tells nothing of a snapshot older than one told", () => {
    assert.deepEqual(told([run({ phase: "Running", podName: "p" }), run({ phase: "Pending", podName: "p" }), run({ phase: "Queued", queuePosition: 1 }), run()]), ["Running"]);
    assert.deepEqual(told([run({ phase: "Pending", podName: "p" }), run({ phase: "Queued", queuePosition: 2 })]), ["Pending"]);
    assert.deepEqual(told([run({ phase: "Queued", queuePosition: 1 }), run()]), ["Queued1"]);
  });

  it("tells a place in the queue that rose: a run created in the same second went ahead", () => {
    assert.deepEqual(told([run({ phase: "Queued", queuePosition: 1 }), run({ phase: "Queued", queuePosition: 2 }), run({ phase: "Queued", queuePosition: 1 })]),
      ["Queued1", "Queued2", "Queued1"]);
  });

  it("takes a run that skipped steps: straight to Running on a warm pod, or finished at once", () => {
    assert.deepEqual(told([run(), run({ phase: "Running", podName: "w" }), run({ phase: "Succeeded", podName: "w" })]), ["Pending", "Running", "Succeeded"]);
    assert.deepEqual(told([run({ phase: "Queued", queuePosition: 4 }), run({ phase: "Failed" })]), ["Queued4", "Failed"]);
  });
});

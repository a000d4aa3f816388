import assert from "node:assert/strict";
import { carriesNullMember, mergePatch } from "./mergePatch.js";

describe("the status merge patch", () => {
  it("is empty when nothing changed, whatever the key order", () => {
    assert.equal(mergePatch({ phase: "Running", conditions: [{ type: "A" }], x: { a: 1, b: 2 } },
      { x: { b: 2, a: 1 }, conditions: [{ type: "A" }], phase: "Running" }), undefined);
  });

  it("carries only what changed", () => {
    assert.deepEqual(mergePatch({ phase: "Pending", podName: "p" }, { phase: "Running", podName: "p", startedAt: "t" }),
      { phase: "Running", startedAt: "t" });
  });

  it("removes fields the new status no longer has with null", () => {
    assert.deepEqual(mergePatch({ phase: "Queued", queuePosition: 3 }, { phase: "Pending" }), { phase: "Pending", queuePosition: null });
  });

  it("diffs nested objects and replaces arrays whole", () => {
    assert.deepEqual(mergePatch({ error: { type: "a", line: 1 }, conditions: [1, 2] }, { error: { type: "b" }, conditions: [1] }),
      { error: { type: "b", line: null }, conditions: [1] });
  });

  it("treats undefined as absent", () => {
    assert.equal(mergePatch({ phase: "Running", result: undefined }, { phase: "Running" }), undefined);
  });

  it("knows which results a merge patch would damage", () => {
    assert.equal(carriesNullMember({ a: 1, b: [null] }), false);
    assert.equal(carriesNullMember([1, null, "x"]), false);
    assert.equal(carriesNullMember(null), false);
    assert.equal(carriesNullMember({ a: null }), true);
    assert.equal(carriesNullMember({ a: { b: null } }), true);
    assert.equal(carriesNullMember([{ b: null }]), true);
  });
});

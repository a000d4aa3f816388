import assert from "node:assert/strict";
import { runBatch, runFor } from "./load.js";

/** A run that takes `ms` and records how many were in flight at its start. */
function probe(ms: number) {
  const state = { inFlight: 0, most: 0, calls: 0 };
  const once = async () => {
    state.calls++;
    state.inFlight++;
    state.most = Math.max(state.most, state.inFlight);
    await new Promise((r) => setTimeout(r, ms));
    state.inFlight--;
    return state.calls;
  };
  return { state, once };
}

describe("driving a path", () => {
  it("runs a batch exactly n times, never more than the concurrency at once", async () => {
    const { state, once } = probe(5);
    const results = await runBatch(10, 4, once);
    assert.equal(results.length, 10);
    assert.equal(state.calls, 10);
    assert.equal(state.most, 4);
  });

  it("runs a batch smaller than the concurrency all at once", async () => {
    const { state, once } = probe(5);
    assert.equal((await runBatch(3, 16, once)).length, 3);
    assert.equal(state.most, 3);
  });

  it("keeps every client busy for the time given and counts the runs that end after it", async () => {
    const { state, once } = probe(20);
    const { results, elapsedMs } = await runFor(100, 3, once);
    assert.equal(state.most, 3);
    assert.equal(results.length, state.calls);
    assert.ok(results.length >= 12 && results.length <= 21, `${results.length} runs`);
    assert.ok(elapsedMs >= 100);
  });
});

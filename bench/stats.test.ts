import assert from "node:assert/strict";
import { percentile, summarize } from "./stats.js";

describe("bench statistics", () => {
  it("interpolate percentiles between the closest ranks", () => {
    assert.equal(percentile([4, 1, 3, 2], 50), 2.5);
    assert.equal(percentile([1, 2, 3, 4], 0), 1);
    assert.equal(percentile([1, 2, 3, 4], 100), 4);
    assert.ok(Math.abs(percentile([1, 2, 3, 4], 95) - 3.85) < 1e-9);
    assert.equal(percentile([7], 95), 7);
  });

  it("take the p95 of 20 samples near the top, not at the maximum", () => {
    const samples = Array.from({ length: 20 }, (_, i) => (i + 1) * 10);
    assert.ok(Math.abs(percentile(samples, 95) - 190.5) < 1e-9);
  });

  it("give NaN for no samples and refuse a percentile outside 0–100", () => {
    assert.ok(Number.isNaN(percentile([], 50)));
    assert.throws(() => percentile([1], 101), RangeError);
  });

  it("summarise samples rounded to 0.1 ms, without reordering the caller's array", () => {
    const samples = [12.34, 10, 11, 30.06];
    assert.deepEqual(summarize(samples), { n: 4, p50: 11.7, p95: 27.4, mean: 15.9, min: 10, max: 30.1 });
    assert.deepEqual(samples, [12.34, 10, 11, 30.06]);
  });
});

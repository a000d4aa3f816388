import assert from "node:assert/strict";
import { type BatchResult, type Results, formatTable, goals, headline } from "./report.js";
import { summarize } from "./stats.js";

const batch = (path: BatchResult["path"], concurrency: number, samples: number[], extra: Partial<BatchResult> = {}): BatchResult =>
  ({ path, workload: "hello", concurrency, latency: summarize(samples), errors: 0, segments: [], ...extra });

const results: Results = {
  batches: [
    batch("execute", 4, [5000]),
    batch("execute", 1, [900, 1000, 1100], { overhead: summarize([30, 40, 50]) }),
    batch("job", 1, [3000, 3300, 3600]),
    batch("direct", 1, [250]),
  ],
  preflight: { api: { 16: summarize([90, 200]), 1: summarize([8, 9, 10, 60]) }, direct: {} },
  throughput: { seconds: 60, clients: 16, sent: 400, answered: 400, succeeded: 399, created: 400, createdByPhase: { Succeeded: 399, Failed: 1 },
    lost: 1, runsPerSecond: 6.65, latency: summarize([2000]) },
};

describe("the bench report", () => {
  it("leads with the hello script's figures at the lowest concurrency, null where a path was not run", () => {
    const h = headline(results);
    assert.equal(h.execute_p50_ms, 1000);
    assert.equal(h.job_p50_ms, 3300);
    assert.equal(h.direct_p50_ms, 250);
    assert.equal(h.scriptrun_p50_ms, null);
    assert.equal(h.overhead_p50_ms, 40);
    assert.equal(h.preflight_p95_ms, 52.5);
    assert.equal(h.throughput_runs_per_s, 6.65);
    assert.equal(h.controller_rss_mb_10k, null);
  });

  it("holds the figures to the goals, counting a lost run against throughput", () => {
    const [speedup, overhead, preflight, throughput, rss] = goals(headline(results), results);
    assert.deepEqual([speedup?.value, speedup?.met], [3.3, true]);
    assert.equal(overhead?.met, true);
    assert.equal(preflight?.met, true);
    assert.equal(throughput?.met, false);
    assert.equal(rss?.met, null);
  });

  it("pads a table's columns, numbers to the right and a missing number as a dash", () => {
    assert.equal(formatTable(["path", "p50"], [["A /execute", 1000.5], ["D", Number.NaN]]),
      "path           p50\nA /execute  1000.5\nD                -");
  });
});

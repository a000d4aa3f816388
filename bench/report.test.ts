import assert from "node:assert/strict";
import { type BatchResult, type Results, baselineOf, formatTable, goalTable, goals, headline } from "./report.js";
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
    const [speedup, overhead, preflight, throughput, churn, rss] = goals(headline(results), results).slice(5);
    assert.deepEqual([speedup?.value, speedup?.met], [3.3, true]);
    assert.equal(overhead?.met, true);
    assert.equal(preflight?.met, true);
    assert.equal(throughput?.met, false);
    assert.equal(churn?.met, null);
    assert.equal(rss?.met, null);
  });

  it("sets throughput beside the node's bare pod churn, and holds the unrounded ratio to 0.8", () => {
    const churn = (podsPerSecond: number): Results => ({ ...results,
      churn: { seconds: 60, clients: 16, created: 500, completed: 500, failed: 0, podsPerSecond, latency: summarize([4000]) } });
    const h = headline(churn(7));
    assert.deepEqual([h.node_pod_churn_per_s, h.throughput_to_node_churn_ratio], [7, 0.95]);
    const goalOf = (r: Results) => goals(headline(r), r).find((g) => g.goal.includes("bare pod churn"))!;
    assert.equal(goalOf(churn(7)).met, true);
    // 6.65 / 8.36 = 0.7955: shown as 0.8, and still short of it.
    assert.deepEqual([goalOf(churn(8.36)).value, goalOf(churn(8.36)).met], [0.8, false]);
    assert.equal(headline(results).node_pod_churn_per_s, null);
  });

  it("leads with the warm paths' figures, the burst and the refill, and the cold runs of /execute apart", () => {
    const warm: Results = {
      ...results,
      batches: [
        batch("execute", 1, [900, 1000, 1100, 3000], { starts: { warm: 1, cold: 3 },
          startLatency: { warm: summarize([3000]), cold: summarize([900, 1000, 1100]) } }),
        batch("warm-execute", 1, [100, 120, 140]),
        batch("warm-execute", 4, [400]),
        batch("warm-scriptrun", 1, [90]),
      ],
      warm: {
        runtime: "bench-x-warm", poolSize: 4, wait: "ready", firstFillMs: 3000, refill: summarize([1500, 2500]), refillHostCpu: null, idlePod: null, status: null,
        backToBack: summarize([150, 250, 350]),
        burst: { calls: 8, poolSize: 4, servedWarm: 4, servedCold: 4, errors: 0, latency: summarize([100, 200, 2000, 2100]),
          warmLatency: null, coldLatency: null, refillMs: 2500 },
      },
    };
    const h = headline(warm);
    assert.deepEqual([h.warm_execute_p50_ms, h.warm_execute_p95_ms, h.warm_scriptrun_p50_ms, h.cold_execute_p50_ms, h.execute_p50_ms],
      [120, 138, 90, 1000, 1050]);
    assert.deepEqual([h.warm_burst_p50_ms, h.warm_burst_served_warm, h.warm_refill_p50_ms], [1100, 4, 2000]);
    assert.deepEqual([h.warm_back_to_back_p50_ms, h.warm_back_to_back_p95_ms], [250, 340]);
    assert.equal(headline(results).warm_execute_p50_ms, null);
    assert.equal(headline(results).warm_burst_p50_ms, null);
  });

  it("holds warm /execute to the host's harness, 150 and 300 ms and the Job path, and the cold path to the baseline", () => {
    const r: Results = {
      ...results,
      batches: [
        batch("execute", 1, [2000, 2100, 2200], { startLatency: { warm: null, cold: summarize([2000, 2100, 2200]) } }),
        batch("warm-execute", 1, [100, 120, 400]),
        batch("job", 1, [3000]),
        batch("direct", 1, [180]),
      ],
      baseline: { source: "git HEAD:bench/results/latest.json", date: null, quick: false, cold_execute_p50_ms: 2000, cpu: "AMD EPYC" },
    };
    const [vsDirect, p50, p95, vsJob, cold] = goals(headline(r), r);
    assert.deepEqual([vsDirect?.value, vsDirect?.met], [0.67, true]);
    assert.deepEqual([p50?.value, p50?.met], [120, true]);
    assert.deepEqual([p95?.value, p95?.met], [372, false]);
    assert.deepEqual([vsJob?.value, vsJob?.met], [25, true]);
    assert.deepEqual([cold?.value, cold?.met], [1.05, true]);
    assert.match(cold!.goal, /2100 ms \/ 2000 ms/);
    assert.doesNotMatch(cold!.goal, /not this machine/);
    assert.match(goals(headline(r), r, "Intel Xeon")[4]!.goal, /measured on AMD EPYC, not this machine/);
    assert.doesNotMatch(goals(headline(r), r, "AMD EPYC")[4]!.goal, /not this machine/);
    const slower = { ...r, baseline: { ...r.baseline!, cold_execute_p50_ms: 1900 } };
    assert.equal(goals(headline(slower), slower)[4]?.met, false);
    assert.equal(goals(headline(results), results)[4]?.met, null);
  });

  it("takes the baseline from a committed latest.json, before or after warm start", () => {
    assert.deepEqual(baselineOf("s", JSON.stringify({ execute_p50_ms: 2017.2, quick: false, date: "d", machine: { cpu: "AMD EPYC" } })),
      { source: "s", date: "d", quick: false, cold_execute_p50_ms: 2017.2, cpu: "AMD EPYC" });
    assert.equal(baselineOf("s", JSON.stringify({ execute_p50_ms: 90, cold_execute_p50_ms: 1900 }))?.cold_execute_p50_ms, 1900);
    assert.equal(baselineOf("s", "not json"), undefined);
  });

  it("prints the goals as a table, a missing figure as a dash", () => {
    assert.equal(goalTable([{ goal: "fast", value: 1.5, met: true }, { goal: "small", value: null, met: null }, { goal: "x", value: 3, met: false }]),
      "      goal   value\nmet   fast     1.5\nn/a   small      -\nMISS  x          3");
  });

  it("pads a table's columns, numbers to the right and a missing number as a dash", () => {
    assert.equal(formatTable(["path", "p50"], [["A /execute", 1000.5], ["D", Number.NaN]]),
      "path           p50\nA /execute  1000.5\nD                -");
  });
});

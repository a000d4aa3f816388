import assert from "node:assert/strict";
import { BenchOptionsError, benchOptions } from "./options.js";

describe("the bench options", () => {
  it("default to the full benchmark: 30 runs at concurrency 1, 4 and 16 on every path, 60 s, 10 000 runs cached", () => {
    const o = benchOptions({});
    assert.equal(o.quick, false);
    assert.equal(o.runs, 30);
    assert.deepEqual(o.concurrency, [1, 4, 16]);
    assert.deepEqual(o.paths, ["execute", "scriptrun", "job", "direct", "warm-execute", "warm-scriptrun"]);
    assert.deepEqual([o.warmPool, o.warmWait, o.warmRefills, o.warmIdleSeconds], [4, "quiet", 5, 30]);
    assert.deepEqual(o.workloads, ["hello", "print", "numpy"]);
    assert.equal(o.throughputSeconds, 60);
    assert.equal(o.fixtureRuns, 10000);
    assert.equal(o.outDir, "bench/results");
  });

  it("shrink with BENCH_QUICK, while a variable set explicitly still wins", () => {
    const o = benchOptions({ BENCH_QUICK: "1", BENCH_RUNS: "3", BENCH_PATHS: "direct, execute", BENCH_FIXTURE_RUNS: "" });
    assert.equal(o.quick, true);
    assert.equal(o.runs, 3);
    assert.deepEqual(o.concurrency, [1, 4]);
    assert.deepEqual(o.paths, ["direct", "execute"]);
    assert.equal(o.throughputSeconds, 15);
    assert.equal(o.fixtureRuns, 1000);
  });

  it("take 0 to skip the latency batches, the throughput and memory phases", () => {
    const o = benchOptions({ BENCH_RUNS: "0", BENCH_THROUGHPUT_SECONDS: "0", BENCH_FIXTURE_RUNS: "0", BENCH_CONCURRENCY: "16,16" });
    assert.equal(o.runs, 0);
    assert.equal(o.throughputSeconds, 0);
    assert.equal(o.fixtureRuns, 0);
    assert.deepEqual(o.concurrency, [16]);
  });

  it("burst 200 and then 500 concurrent calls in the overload phase, 50 in quick mode, none with 0", () => {
    assert.deepEqual([benchOptions({}).overload, benchOptions({}).overloadWarmup], [[200, 500], 20]);
    assert.deepEqual(benchOptions({ BENCH_QUICK: "1" }).overload, [50]);
    assert.deepEqual(benchOptions({ BENCH_OVERLOAD: "0" }).overload, []);
    assert.throws(() => benchOptions({ BENCH_OVERLOAD: "lots" }), /BENCH_OVERLOAD/);
  });

  it("measure the warm paths on a pool of BENCH_WARM_POOL pods, and nothing warm with 0", () => {
    assert.deepEqual([benchOptions({ BENCH_QUICK: "1" }).warmRefills, benchOptions({ BENCH_QUICK: "1" }).warmIdleSeconds], [3, 20]);
    assert.equal(benchOptions({ BENCH_WARM_POOL: "2" }).warmPool, 2);
    const none = benchOptions({ BENCH_WARM_POOL: "0" });
    assert.equal(none.warmPool, 0);
    assert.deepEqual(none.paths, ["execute", "scriptrun", "job", "direct"]);
    assert.throws(() => benchOptions({ BENCH_WARM_POOL: "0", BENCH_PATHS: "warm-execute" }), /BENCH_PATHS/);
    assert.throws(() => benchOptions({ BENCH_WARM_POOL: "51" }), /BENCH_WARM_POOL/);
    assert.equal(benchOptions({ BENCH_WARM_WAIT: "full" }).warmWait, "full");
    assert.equal(benchOptions({ BENCH_WARM_WAIT: "ready" }).warmWait, "ready");
    assert.throws(() => benchOptions({ BENCH_WARM_WAIT: "empty" }), /BENCH_WARM_WAIT/);
  });

  it("refuse what they cannot use, naming the variable", () => {
    assert.throws(() => benchOptions({ BENCH_RUNS: "-1" }), (err: Error) => err instanceof BenchOptionsError && /BENCH_RUNS/.test(err.message));
    assert.throws(() => benchOptions({ BENCH_PATHS: "execute,teleport" }), /BENCH_PATHS/);
    assert.throws(() => benchOptions({ BENCH_CONCURRENCY: "1,x" }), /BENCH_CONCURRENCY/);
  });
});

import assert from "node:assert/strict";
import { type StageMeans, overheads, segmentsOf, stageMeans, warmMarks } from "./breakdown.js";
import type { RunSample } from "./paths.js";
import { parseMetrics } from "./prometheus.js";

const run = (start: number, created: number, done: number, end: number, extra: Partial<RunSample> = {}): RunSample =>
  ({ start, end, pod: { created, done }, ...extra });

const means = (ms: Partial<Record<keyof StageMeans, number>>): StageMeans => Object.fromEntries(
  ["queue", "preflight", "pod_created", "pod_claimed", "pod_started", "execution", "status_written", "api_preflight", "api_execute"]
    .map((stage) => [stage, ms[stage as keyof StageMeans] === undefined ? { count: 0, meanMs: Number.NaN } : { count: 2, meanMs: ms[stage as keyof StageMeans]! }]),
) as StageMeans;

const total = (segments: Array<{ ms: number }>) => segments.reduce((sum, s) => sum + s.ms, 0);

describe("the stage breakdown", () => {
  const samples = [run(0, 100, 1100, 1150), run(0, 120, 1320, 1350), run(0, 50, 60, 70, { error: "wrong result" })];
  const stages = means({ api_preflight: 5, preflight: 4, pod_created: 60, pod_started: 700, execution: 200, status_written: 15 });

  it("cuts /execute into API, controller, pod and answer segments adding up to the mean total", () => {
    const segments = segmentsOf("execute", samples, stages);
    assert.deepEqual(segments.map((s) => s.name), ["API preflight", "API → controller", "controller preflight", "pod creation",
      "pod start", "script (harness)", "pod exit reported", "status write", "API answer"]);
    assert.deepEqual(segments.map((s) => s.ms), [5, 45, 4, 56, 700, 200, 200, 15, 25]);
    assert.equal(total(segments), 1250);
  });

  it("starts a ScriptRun's breakdown at its creation, with no API segments", () => {
    const segments = segmentsOf("scriptrun", samples, stages);
    assert.equal(segments[0]?.name, "create → controller");
    assert.equal(segments[0]?.ms, 50);
    assert.equal(segments.at(-1)?.name, "watch → client");
    assert.equal(total(segments), 1250);
  });

  it("cuts the Job path at the pod, the Job's completion and the log read", () => {
    const jobs = [run(0, 300, 1300, 2500, { complete: 2400 }), run(0, 500, 1500, 2700, { complete: 2600 })];
    const segments = segmentsOf("job", jobs);
    assert.deepEqual(segments, [{ name: "Job → pod", ms: 400 }, { name: "pod: created → exit reported", ms: 1000 },
      { name: "Job marked complete", ms: 1100 }, { name: "log read", ms: 100 }]);
  });

  it("cuts a warm run at its claim and its finish, into the claim, the attach, the script, the status write and the answer", () => {
    // start 0; pod claimed (seen owned by the run) at 60; status Running seen at 80; run seen finished at 160; answer at 165.
    const warm = (extra: Partial<RunSample> = {}): RunSample => ({ start: 0, end: 165, pod: { created: 60 },
      run: { created: 30, running: 80, finished: 160, start: "warm" }, ...extra });
    const cold = warm({ run: { created: 30, finished: 1900, start: "cold" }, end: 2000 });
    const warmStages = means({ api_preflight: 2, preflight: 3, pod_claimed: 20, execution: 40, status_written: 15 });
    const samples = [warm(), warm(), cold, warm({ error: "wrong" })];
    const segments = segmentsOf("warm-execute", samples, warmStages);
    assert.deepEqual(segments.map((s) => s.name), ["API preflight", "API → controller", "controller preflight", "claim",
      "attach", "script (harness)", "status write", "API answer"]);
    assert.deepEqual(segments.map((s) => s.ms), [2, 38, 3, 17, 45, 40, 15, 5]);
    assert.equal(total(segments), 165);
    const viaRun = segmentsOf("warm-scriptrun", [warm({ end: 160 })], warmStages);
    assert.deepEqual([viaRun[0]?.name, viaRun[0]?.ms, viaRun.at(-1)?.name, viaRun.at(-1)?.ms], ["create → controller", 40, "watch → client", 0]);
    assert.equal(total(viaRun), 160);
    assert.deepEqual(warmMarks(samples), { runs: 2, claimToRunningMs: 20, runningToFinishedMs: 80 });
    assert.equal(warmMarks([cold]), undefined);
  });

  it("gives the direct path one segment, and leaves failed runs out everywhere", () => {
    assert.deepEqual(segmentsOf("direct", [{ start: 0, end: 300 }, { start: 0, end: 5, error: "boom" }]),
      [{ name: "runner on the host", ms: 300 }]);
  });

  it("takes each run's overhead as its total minus its pod's life", () => {
    assert.deepEqual(overheads(samples), [150, 150]);
    assert.deepEqual(overheads([{ start: 0, end: 10, pod: { created: 2 } }]), []);
  });

  it("reads the stage means from two scrapes of the controller and the API", () => {
    const controller = (n: number) => parseMetrics(`scriptrun_stage_duration_seconds_sum{stage="preflight"} ${n * 0.004}\n` +
      `scriptrun_stage_duration_seconds_count{stage="preflight"} ${n}\n`);
    const api = (n: number) => parseMetrics(`scriptrun_api_preflight_duration_seconds_sum{outcome="ok"} ${n * 0.002}\n` +
      `scriptrun_api_preflight_duration_seconds_count{outcome="ok"} ${n}\n` +
      `scriptrun_api_preflight_duration_seconds_sum{outcome="refused"} ${n}\n` +
      `scriptrun_api_preflight_duration_seconds_count{outcome="refused"} ${n}\n`);
    const seen = stageMeans({ controller: controller(2), api: api(1) }, { controller: controller(12), api: api(5) });
    assert.equal(seen.preflight.count, 10);
    assert.ok(Math.abs(seen.preflight.meanMs - 4) < 1e-9);
    assert.equal(seen.api_preflight.count, 4);
    assert.ok(Math.abs(seen.api_preflight.meanMs - 2) < 1e-9);
    assert.equal(seen.queue.count, 0);
  });
});

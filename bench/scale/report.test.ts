import assert from "node:assert/strict";
import type { ScriptRun } from "../../crds/schema.js";
import { aRun } from "../../operator/testkit.js";
import type { CpuUse } from "./cpu.js";
import { type RunRecord, wrongOutcome } from "./drive.js";
import { scaleSettings } from "./options.js";
import { type RunsPhase, cpuTable, figures, goalTable, goals } from "./report.js";

const use = (ms: number, busy: number): CpuUse => ({ ms, share: ms / busy });

/** A phase of 6 runs sent over 2 s: 3 right (1, 2 and 3 s), 1 wrong, 1 never finished, 1 refused. */
function phase(controllerMs: number): RunsPhase {
  const records = new Map<string, RunRecord>([
    ["a", { sentAt: 0, finishedAt: 1000 }],
    ["b", { sentAt: 0, finishedAt: 2000 }],
    ["c", { sentAt: 0, finishedAt: 3000 }],
    ["d", { sentAt: 0, finishedAt: 1500, wrong: "Failed: runtime_error: boom" }],
    ["e", { sentAt: 0 }],
  ]);
  const busy = 4000;
  return {
    drive: { sent: 6, answers: { 202: 5, 429: 1 }, records, elapsedMs: 2000 },
    cpu: {
      controller: use(controllerMs, busy), api: use(100, busy), apiserver: use(1600, busy), etcd: use(400, busy), scheduler: use(0, busy),
      controllerManager: use(0, busy), kwok: use(0, busy), driver: use(0, busy), other: use(busy - 2100 - controllerMs, busy),
    },
    hostBusyMs: busy,
    rssMiB: { controller: 150, api: 120 },
    maxWorkqueueDepth: 7,
    maxRunsQueued: 0,
  };
}

describe("the figures of make scale", () => {
  it("count lost, wrong and refused runs apart, and time only the right ones", () => {
    const f = figures(phase(20));
    assert.deepEqual([f.runs, f.lost, f.wrong, f.refused], [6, 1, 1, 1]);
    assert.equal(f.completed_runs_per_s, 2);
    assert.equal(f.create_to_succeeded_p50_ms, 2000);
    assert.equal(f.create_to_succeeded_p95_ms, 2900);
    assert.equal(f.controller_cpu_ms_per_run, 5);
    assert.equal(f.apiserver_cpu_ms_per_run, 400);
    assert.equal(f.etcd_cpu_ms_per_run, 100);
    assert.equal(f.controller_cores, 0.01);
    assert.equal(f.max_queue_depth, 7);
  });

  it("miss the goal of no run lost when one is lost, and meet the CPU goals they reach", () => {
    const p = phase(20);
    const verdicts = Object.fromEntries(goals(figures(p), p, null).map((g) => [g.goal.replace(/\d+ runs/, "N runs"), g.met]));
    assert.deepEqual(verdicts, {
      "controller CPU at most 5 ms per run": true,
      "controller RSS under 200 MB with N runs": true,
      "no run lost": false,
      "runs/s limited by apiserver+etcd, not the controller": true,
    });
  });

  it("blame the controller for the pace when it used most of its one core", () => {
    const p = phase(1900);
    const pace = goals(figures(p), p, null).find((g) => g.goal.startsWith("runs/s"))!;
    assert.equal(pace.met, false);
    assert.match(pace.figure, /0\.95 cores/);
  });

  it("want every caller answered, refusals included, and none answered wrong or not at all", () => {
    const p = phase(20);
    const callers = { calls: 10, right: 7, wrong: 0, refused: 2, timedOut: 1, other: 0, answeredMaxMs: 900, refusedP50Ms: 3, refusedMaxMs: 4,
      apiRssMiB: 150, controllerRssMiB: 140, answers: { 200: 7, 429: 2, 504: 1 }, elapsedMs: 1000, apiCpuMs: 50, controllerCpuMs: 20,
      errors: { "429 over_capacity": { count: 2, message: "9 runs are ahead" }, "504 wait_timeout": { count: 1, message: "Run r did not finish" } } };
    const goal = goals(figures(p), p, callers).at(-1)!;
    assert.equal(goal.met, false);
    assert.match(goal.figure, /1 other/);
    // The refusals are answers; what went wrong otherwise is named, with its first message.
    assert.match(goal.figure, /504 wait_timeout ×1: Run r did not finish\)$/);
    assert.doesNotMatch(goal.figure, /over_capacity/);
    assert.equal(goals(figures(p), p, { ...callers, timedOut: 0, refused: 3, answers: { 200: 7, 429: 3 }, errors: {} }).at(-1)!.met, true);
  });

  it("print a table of each process's CPU and one of the goals", () => {
    const p = phase(20);
    assert.match(cpuTable(p, 4), /\| apiserver +\| 1600 +\| 400 +\| 40% +\|/);
    assert.match(goalTable(goals(figures(p), p, null)), /\| no run lost +\| 1 lost, 1 wrong, 1 refused +\| MISSED +\|/);
  });
});

describe("a run's outcome in make scale", () => {
  const finished = (status: ScriptRun["status"]): ScriptRun => ({ ...aRun("r"), status });
  it("is right only when the hello script succeeded with its result", () => {
    assert.equal(wrongOutcome(finished({ phase: "Succeeded", result: "hello" })), undefined);
    assert.match(wrongOutcome(finished({ phase: "Succeeded", result: null }))!, /not "hello"/);
    assert.match(wrongOutcome(finished({ phase: "Failed", error: { type: "infrastructure_error", message: "no node", suggestions: [], availableFunctions: [] } }))!,
      /Failed: infrastructure_error: no node/);
  });
});

describe("make scale's settings", () => {
  it("default to 10 000 runs on 100 nodes and 1 000 callers", () => {
    assert.deepEqual(scaleSettings({}), { nodes: 100, runs: 10_000, inFlight: 500, senders: 32, callers: 1000, stallSeconds: 120, outDir: "bench/results",
      controller: "operator" });
  });

  it("take SCALE_* variables and refuse nonsense", () => {
    assert.equal(scaleSettings({ SCALE_RUNS: "200", SCALE_NODES: "3" }).runs, 200);
    assert.throws(() => scaleSettings({ SCALE_NODES: "0" }), /SCALE_NODES/);
    assert.equal(scaleSettings({ SCALE_CONTROLLER: "floor" }).controller, "floor");
    assert.throws(() => scaleSettings({ SCALE_CONTROLLER: "kube-controller-manager" }), /SCALE_CONTROLLER/);
  });
});

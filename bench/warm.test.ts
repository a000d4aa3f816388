import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import type { RunSample } from "./paths.js";
import {
  PoolCounter, WarmGate, cgroupDirs, hostBusyMs, idleUsage, isReadyPoolPod, refillAfter, statFile, summaryReadings, tallyBurst, warmRuntimeName,
} from "./warm.js";

const poolPod = (runtime: string | undefined, state: "running" | "waiting" | "terminated", extra: { deleting?: boolean } = {}): V1Pod => ({
  metadata: { name: "p", labels: runtime ? { "scriptrun.dev/warm-pool": runtime } : {}, ...(extra.deleting ? { deletionTimestamp: new Date() } : {}) },
  status: { phase: state === "terminated" ? "Succeeded" : state === "running" ? "Running" : "Pending",
    containerStatuses: [{ name: "runner", image: "i", imageID: "", ready: false, restartCount: 0,
      state: state === "running" ? { running: {} } : state === "waiting" ? { waiting: {} } : { terminated: { exitCode: 0 } } }] },
});

describe("the warm pool as the bench sees it", () => {
  it("names the runtime after the bench's namespace", () => {
    assert.equal(warmRuntimeName("bench-abc123"), "bench-abc123-warm");
  });

  it("counts a pod ready when it is the runtime's, running its runner, and not being deleted", () => {
    assert.equal(isReadyPoolPod(poolPod("rt", "running"), "rt"), true);
    assert.equal(isReadyPoolPod(poolPod("other", "running"), "rt"), false);
    assert.equal(isReadyPoolPod(poolPod(undefined, "running"), "rt"), false);
    assert.equal(isReadyPoolPod(poolPod("rt", "waiting"), "rt"), false);
    assert.equal(isReadyPoolPod(poolPod("rt", "terminated"), "rt"), false);
    assert.equal(isReadyPoolPod(poolPod("rt", "running", { deleting: true }), "rt"), false);
  });

  it("keeps the pool's count over time, only when it changes, and waits for a count", async () => {
    let ready = 0;
    const pool = new PoolCounter(() => ready);
    pool.update(1);
    ready = 2;
    pool.update(5);
    pool.update(6);
    assert.deepEqual(pool.history, [{ at: 1, ready: 0 }, { at: 5, ready: 2 }]);
    const full = pool.waitUntil("3 ready", (n) => n >= 3, 1000);
    ready = 3;
    pool.update(9);
    assert.equal(await full, 9);
    await assert.rejects(pool.waitUntil("9 ready", (n) => n >= 9, 10), /9 ready \(3 ready\)/);
  });

  it("times a refill from the first claim after a moment until the pool is full again", () => {
    const history = [{ at: 0, ready: 4 }, { at: 100, ready: 3 }, { at: 150, ready: 2 }, { at: 900, ready: 3 }, { at: 1400, ready: 4 },
      { at: 2000, ready: 3 }];
    assert.deepEqual(refillAfter(history, 50, 4), { claimedAt: 100, fullAt: 1400 });
    assert.equal(refillAfter(history, 1500, 4), undefined);
    assert.equal(refillAfter(history.slice(0, 4), 50, 4), undefined);
  });
});

describe("this host's busy CPU", () => {
  it("adds user, nice, system, irq, softirq and steal ticks (not idle or iowait), at 10 ms a tick", () => {
    const stat = "cpu  100 2 30 9000 50 4 5 6 0 0\ncpu0 50 1 15 4500 25 2 2 3 0 0\nintr 1\n";
    assert.equal(hostBusyMs(stat), (100 + 2 + 30 + 4 + 5 + 6) * 10);
  });

  it("is undefined without a cpu line", () => {
    assert.equal(hostBusyMs("intr 1\n"), undefined);
    assert.equal(hostBusyMs(""), undefined);
  });

  it("reads this host's /proc/stat, which only grows", () => {
    const [a, b] = [hostBusyMs(), hostBusyMs()];
    assert.ok(a !== undefined && b !== undefined && b >= a && a > 0);
  });
});

describe("the warm gate", () => {
  it("lets a run go only while the pool has a ready pod no run in flight may still claim, in order", async () => {
    let ready = 2;
    const gate = new WarmGate(() => ready);
    const went: number[] = [];
    const runs = [1, 2, 3].map((i) => gate.acquire(1000).then(() => went.push(i)));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(went, [1, 2]);
    // The first run claimed its pod: one ready, two in flight; still nothing for the third.
    ready = 1;
    gate.changed();
    gate.release();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(went, [1, 2]);
    // Its refill came.
    ready = 2;
    gate.changed();
    await Promise.all(runs);
    assert.deepEqual(went, [1, 2, 3]);
    assert.equal(gate.running, 2);
  });

  it("can wait for the whole pool instead, one run at a time", async () => {
    let ready = 3;
    const gate = new WarmGate(() => ready, 3);
    const went: number[] = [];
    const runs = [1, 2].map((i) => gate.acquire(1000).then(() => went.push(i)));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(went, [1]);
    ready = 2;
    gate.changed();
    gate.release();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(went, [1]);
    ready = 3;
    gate.changed();
    await Promise.all(runs);
    assert.deepEqual(went, [1, 2]);
  });

  it("gives up on a run that found no ready pod in time", async () => {
    const gate = new WarmGate(() => 0);
    await assert.rejects(gate.acquire(10), /No warm pod was ready within 10 ms/);
    assert.equal(gate.running, 0);
  });
});

describe("a warm burst's figures", () => {
  const call = (ms: number, start?: string, error?: string): RunSample =>
    ({ start: 0, end: ms, ...(start ? { run: { created: 1, start } } : {}), ...(error ? { error } : {}) });

  it("count the calls served warm and cold, and give every right answer's latency and each kind's", () => {
    const burst = tallyBurst([call(100, "warm"), call(120, "warm"), call(2000, "cold"), call(2200, "cold"), call(5, undefined, "HTTP 500")], 2, 2345.67);
    assert.deepEqual([burst.calls, burst.poolSize, burst.servedWarm, burst.servedCold, burst.errors, burst.firstError],
      [5, 2, 2, 2, 1, "HTTP 500"]);
    assert.deepEqual([burst.latency.n, burst.latency.p50], [4, 1060]);
    assert.deepEqual([burst.warmLatency?.p50, burst.coldLatency?.p50, burst.refillMs], [110, 2100, 2345.7]);
  });

  it("have no per-kind figures for a kind no call had", () => {
    const burst = tallyBurst([call(100, "warm")], 1, null);
    assert.deepEqual([burst.coldLatency, burst.refillMs, burst.firstError], [null, null, undefined]);
  });
});

describe("an idle pool pod's usage", () => {
  const reading = (pod: string, atSeconds: number, cpuSeconds: number, workingSetMiB: number) =>
    ({ pod, atSeconds, cpuSeconds, workingSetBytes: workingSetMiB * 2 ** 20, rssBytes: workingSetMiB * 2 ** 19 });

  it("averages each pod's CPU between two readings, in millicores, and takes its memory from the second", () => {
    const usage = idleUsage([reading("a", 100, 1.0, 10), reading("b", 100, 2.0, 10), reading("gone", 100, 0, 1)],
      [reading("a", 120, 1.02, 12), reading("b", 120, 2.06, 14), reading("new", 120, 5, 1)]);
    assert.deepEqual(usage, { pods: 2, seconds: 20, cpuMillicores: 2, cpuMillicoresMax: 3, workingSetMiB: 13, workingSetMiBMax: 14, rssMiB: 6.5 });
    assert.equal(idleUsage([], [reading("a", 1, 1, 1)]), null);
  });

  it("reads the kubelet's summary for the pool's pods only", () => {
    const summary = { pods: [
      { podRef: { name: "a", namespace: "ns" }, cpu: { time: "2026-01-01T00:00:10Z", usageCoreNanoSeconds: 2_500_000_000 },
        memory: { workingSetBytes: 2 ** 20, rssBytes: 512 } },
      { podRef: { name: "b", namespace: "ns" }, cpu: { time: "2026-01-01T00:00:10Z", usageCoreNanoSeconds: 1 } },
      { podRef: { name: "a", namespace: "other" }, cpu: { time: "2026-01-01T00:00:10Z", usageCoreNanoSeconds: 1 } },
      { podRef: { name: "a", namespace: "ns" } },
    ] };
    assert.deepEqual(summaryReadings(summary, "ns", ["a"]), [
      { pod: "a", atSeconds: Date.UTC(2026, 0, 1, 0, 0, 10) / 1000, cpuSeconds: 2.5, workingSetBytes: 2 ** 20, rssBytes: 512 },
    ]);
  });

  it("looks for a pod's cgroup under cgroupfs v1 and v2 and systemd's slices, and reads stat files", () => {
    const dirs = cgroupDirs("ab-cd", "/cg");
    assert.deepEqual(dirs[0], { version: 1, cpu: "/cg/cpuacct/kubepods/burstable/podab-cd", memory: "/cg/memory/kubepods/burstable/podab-cd" });
    assert.ok(dirs.some((d) => d.cpu === "/cg/kubepods/podab-cd"));
    assert.ok(dirs.some((d) => d.cpu === "/cg/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podab_cd.slice"));
    assert.ok(dirs.some((d) => d.cpu === "/cg/kubepods.slice/kubepods-podab_cd.slice"));
    assert.deepEqual(statFile("total_rss 4096\ntotal_inactive_file 10\n\n"), { total_rss: 4096, total_inactive_file: 10 });
  });
});

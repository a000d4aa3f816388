// The warm paths' own measurements. The bench makes a runtime of its own for them (cluster-scoped,
// named after its namespace, the default runtime's spec with a warm pool in the bench's namespace),
// counts the pool's ready pods from its watch of the namespace's pods, and measures: the pool's
// refill (a claim → the pool full again), a burst of twice the pool's size at once, and what an
// idle pool pod costs (CPU and memory, from its cgroup and from the kubelet's /stats/summary).
// The warm latency batches themselves are paths of paths.ts; WarmGate lets each of their runs go
// only when the pool has a pod ready for it.
import { existsSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { RUNTIMES } from "../core/runtimeCatalog.js";
import { RUNTIME_KIND, type ScriptRuntime, type ScriptRuntimeStatus } from "../crds/runtime.js";
import { API_VERSION } from "../crds/schema.js";
import { RUNNER_CONTAINER } from "../operator/names.js";
import { POOL_LABEL } from "../operator/warmPool.js";
import { runBatch } from "./load.js";
import { type BenchContext, type RunSample, pathRunner } from "./paths.js";
import { type Summary, round1, summarize } from "./stats.js";
import { WORKLOADS } from "./workload.js";

/** The bench's warm runtime: named after its namespace, so that two benches never share one. */
export const warmRuntimeName = (namespace: string) => `${namespace}-warm`;

/** A pod of `runtime`'s pool that a run can claim now: running, its runner up, not being deleted
 * (what the controller's claim looks for; the bench's runtime never changes, so every pod is of
 * its current template). */
export function isReadyPoolPod(pod: V1Pod, runtime: string): boolean {
  const runner = pod.status?.containerStatuses?.find((c) => c.name === RUNNER_CONTAINER);
  return pod.metadata?.labels?.[POOL_LABEL] === runtime && !pod.metadata?.deletionTimestamp
    && pod.status?.phase === "Running" && runner?.state?.running !== undefined;
}

export interface PoolPoint {
  /** performance.now() of the watch event after which the pool had `ready` pods. */
  at: number;
  ready: number;
}

/** The pool's ready pods over time, as the bench's watch of the pods sees them change. */
export class PoolCounter {
  readonly history: PoolPoint[] = [];
  private readonly listeners = new Set<() => void>();

  /** `count`: the ready pool pods in the watch's cache now. */
  constructor(private readonly count: () => number) {}

  get ready(): number {
    return this.history.at(-1)?.ready ?? 0;
  }

  /** A pod event arrived at `at`: counts again, and tells the listeners if the count changed. */
  update(at: number): void {
    const ready = this.count();
    if (this.history.length > 0 && this.ready === ready) return;
    this.history.push({ at, ready });
    for (const listener of [...this.listeners]) listener();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves with the time of the change after which `ok(ready)` held (now, if it holds now). */
  waitUntil(what: string, ok: (ready: number) => boolean, timeoutMs: number): Promise<number> {
    if (ok(this.ready)) return Promise.resolve(performance.now());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (${this.ready} ready)`));
      }, timeoutMs);
      const off = this.onChange(() => {
        if (!ok(this.ready)) return;
        clearTimeout(timer);
        off();
        resolve(this.history.at(-1)!.at);
      });
    });
  }
}

/**
 * Lets a warm path's run go only when the pool has a ready pod that no run let through before it
 * may still be about to claim: ready pods minus runs in flight at least `need` (1; the pool's
 * size to start each run on a full pool, with no refill under way). A run in flight that already
 * claimed its pod no longer counts among the ready ones, so this is conservative: a run never
 * starts cold for want of a pod the bench could have waited for. Waiting runs go in order.
 */
export class WarmGate {
  private inFlight = 0;
  private readonly queue: Array<() => void> = [];

  constructor(private readonly ready: () => number, readonly need = 1) {}

  /** Call when the pool's count changed. */
  changed(): void {
    this.grant();
  }

  acquire(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const at = this.queue.indexOf(entry);
        if (at >= 0) this.queue.splice(at, 1);
        reject(new Error(`No warm pod was ready within ${timeoutMs} ms`));
      }, timeoutMs);
      this.queue.push(entry);
      this.grant();
    });
  }

  release(): void {
    this.inFlight--;
    this.grant();
  }

  get running(): number {
    return this.inFlight;
  }

  private grant(): void {
    while (this.queue.length > 0 && this.ready() - this.inFlight >= this.need) {
      this.inFlight++;
      this.queue.shift()!();
    }
  }
}

/** The first time at or after `from` that the pool fell below `size` (a claim, as the watch saw the
 * pod leave the pool), and the first time after that it was back at `size`; undefined until both. */
export function refillAfter(history: readonly PoolPoint[], from: number, size: number): { claimedAt: number; fullAt: number } | undefined {
  const claimed = history.findIndex((p) => p.at >= from && p.ready < size);
  if (claimed < 0) return undefined;
  const full = history.slice(claimed + 1).find((p) => p.ready >= size);
  return full ? { claimedAt: history[claimed]!.at, fullAt: full.at } : undefined;
}

export interface WarmBurst {
  /** Concurrent warm /execute calls of the hello script, sent with the pool full. */
  calls: number;
  poolSize: number;
  /** Right answers, by how their run started. */
  servedWarm: number;
  servedCold: number;
  errors: number;
  firstError?: string;
  /** Every right answer, and those started warm and cold apart. */
  latency: Summary;
  warmLatency: Summary | null;
  coldLatency: Summary | null;
  /** From the burst's first claim until the pool was full again. */
  refillMs: number | null;
}

/** A burst's figures from its calls. */
export function tallyBurst(samples: readonly RunSample[], poolSize: number, refillMs: number | null): WarmBurst {
  const ok = samples.filter((s) => s.error === undefined);
  const ms = (pick: (s: RunSample) => boolean) => ok.filter(pick).map((s) => s.end - s.start);
  const warm = ms((s) => s.run?.start === "warm");
  const cold = ms((s) => s.run?.start !== "warm");
  const firstError = samples.find((s) => s.error !== undefined)?.error;
  return {
    calls: samples.length, poolSize, servedWarm: warm.length, servedCold: cold.length, errors: samples.length - ok.length,
    ...(firstError !== undefined ? { firstError } : {}),
    latency: summarize(ms(() => true)),
    warmLatency: warm.length > 0 ? summarize(warm) : null,
    coldLatency: cold.length > 0 ? summarize(cold) : null,
    refillMs: refillMs === null ? null : round1(refillMs),
  };
}

/** One reading of a pod's usage: cumulative CPU seconds, and memory, at a time in seconds. */
export interface UsageReading {
  pod: string;
  atSeconds: number;
  cpuSeconds: number;
  workingSetBytes: number;
  rssBytes: number;
}

export interface PodIdleUsage {
  pods: number;
  seconds: number;
  /** Mean over the pool's pods, and the highest of them (CPU to 0.01 millicore). */
  cpuMillicores: number;
  cpuMillicoresMax: number;
  workingSetMiB: number;
  workingSetMiBMax: number;
  rssMiB: number;
}

/** What the pods read twice used between the readings (CPU) and at the second one (memory). */
export function idleUsage(before: readonly UsageReading[], after: readonly UsageReading[]): PodIdleUsage | null {
  const pairs = after.flatMap((b) => {
    const a = before.find((r) => r.pod === b.pod);
    return a && b.atSeconds > a.atSeconds ? [{ a, b }] : [];
  });
  if (pairs.length === 0) return null;
  const cpu = pairs.map(({ a, b }) => ((b.cpuSeconds - a.cpuSeconds) / (b.atSeconds - a.atSeconds)) * 1000);
  const ws = pairs.map(({ b }) => b.workingSetBytes / 2 ** 20);
  const meanOf = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  // An idle pod uses hundredths of a millicore: keep them.
  const round2 = (x: number) => Math.round(x * 100) / 100;
  return {
    pods: pairs.length,
    seconds: round1(meanOf(pairs.map(({ a, b }) => b.atSeconds - a.atSeconds))),
    cpuMillicores: round2(meanOf(cpu)),
    cpuMillicoresMax: round2(Math.max(...cpu)),
    workingSetMiB: round1(meanOf(ws)),
    workingSetMiBMax: round1(Math.max(...ws)),
    rssMiB: round1(meanOf(pairs.map(({ b }) => b.rssBytes / 2 ** 20))),
  };
}

interface StatsSummary {
  pods?: Array<{
    podRef?: { name?: string; namespace?: string };
    cpu?: { time?: string; usageCoreNanoSeconds?: number };
    memory?: { time?: string; workingSetBytes?: number; rssBytes?: number };
  }>;
}

/** The kubelet's /stats/summary (what `kubectl top` reads) for the pods named, in `namespace`. */
export function summaryReadings(summary: StatsSummary, namespace: string, pods: readonly string[]): UsageReading[] {
  return (summary.pods ?? []).flatMap((p) => {
    const name = p.podRef?.name ?? "";
    if (p.podRef?.namespace !== namespace || !pods.includes(name) || p.cpu?.usageCoreNanoSeconds === undefined || !p.cpu.time) return [];
    return [{
      pod: name, atSeconds: new Date(p.cpu.time).getTime() / 1000, cpuSeconds: p.cpu.usageCoreNanoSeconds / 1e9,
      workingSetBytes: p.memory?.workingSetBytes ?? 0, rssBytes: p.memory?.rssBytes ?? 0,
    }];
  });
}

/** Where a pod's cgroup may be on this host: cgroupfs under v1 (cpuacct and memory) or v2, or
 * systemd's slices under v2; each QoS class. */
export function cgroupDirs(uid: string, root = "/sys/fs/cgroup"): Array<{ version: 1 | 2; cpu: string; memory: string }> {
  const qos = ["burstable/", "besteffort/", ""];
  const slice = (q: string) => (q === "" ? "kubepods.slice" : `kubepods.slice/kubepods-${q.slice(0, -1)}.slice`);
  const sliceName = (q: string) => `kubepods-${q === "" ? "" : `${q.slice(0, -1)}-`}pod${uid.replace(/-/g, "_")}.slice`;
  return [
    ...qos.map((q) => ({ version: 1 as const, cpu: `${root}/cpuacct/kubepods/${q}pod${uid}`, memory: `${root}/memory/kubepods/${q}pod${uid}` })),
    ...qos.map((q) => ({ version: 2 as const, cpu: `${root}/kubepods/${q}pod${uid}`, memory: `${root}/kubepods/${q}pod${uid}` })),
    ...qos.map((q) => ({ version: 2 as const, cpu: `${root}/${slice(q)}/${sliceName(q)}`, memory: `${root}/${slice(q)}/${sliceName(q)}` })),
  ];
}

/** `key value` lines (memory.stat, cpu.stat) as numbers. */
export function statFile(text: string): Record<string, number> {
  return Object.fromEntries(text.split("\n").map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 2).map(([k, v]) => [k!, Number(v)]));
}

/** A pod's usage read from its cgroup on this host (when the node is this host), now. */
function cgroupReading(pod: string, uid: string): UsageReading | undefined {
  const dir = cgroupDirs(uid).find((d) => existsSync(d.cpu) && existsSync(d.memory));
  if (!dir) return undefined;
  const read = (path: string) => readFileSync(path, "utf8");
  const atSeconds = performance.timeOrigin / 1000 + performance.now() / 1000;
  if (dir.version === 1) {
    const stat = statFile(read(`${dir.memory}/memory.stat`));
    const usage = Number(read(`${dir.memory}/memory.usage_in_bytes`));
    return {
      pod, atSeconds, cpuSeconds: Number(read(`${dir.cpu}/cpuacct.usage`)) / 1e9,
      workingSetBytes: Math.max(0, usage - (stat.total_inactive_file ?? 0)), rssBytes: stat.total_rss ?? 0,
    };
  }
  const stat = statFile(read(`${dir.memory}/memory.stat`));
  return {
    pod, atSeconds, cpuSeconds: (statFile(read(`${dir.cpu}/cpu.stat`)).usage_usec ?? 0) / 1e6,
    workingSetBytes: Math.max(0, Number(read(`${dir.memory}/memory.current`)) - (stat.inactive_file ?? 0)), rssBytes: stat.anon ?? 0,
  };
}

export interface WarmResult {
  runtime: string;
  poolSize: number;
  /** What each run of the warm latency batches waited for (BENCH_WARM_WAIT). */
  wait: "ready" | "full" | "quiet";
  /** From the runtime's creation until its pool first had every pod ready. */
  firstFillMs: number | null;
  /** Claim → the pool full again, once per refill timed. */
  refill: Summary | null;
  /** This host's busy CPU during each refill timed (absent where /proc/stat is not there). */
  refillHostCpu: Summary | null;
  burst: WarmBurst | null;
  /** Warm /execute of hello, runs one after the other, each waiting only for one ready pod. */
  backToBack: Summary | null;
  /** An idle pool pod, from its cgroup on this host and from the kubelet's /stats/summary. */
  idlePod: { cgroup: PodIdleUsage | null; statsSummary: PodIdleUsage | null } | null;
  /** The runtime's status as the controller last wrote it. */
  status: ScriptRuntimeStatus | null;
}

/** The bench's warm runtime: the default runtime's spec (its image, limits and pod), with a pool
 * of `size` pods in `namespace`. Never the default itself. */
export async function createWarmRuntime(kc: KubeConfig, namespace: string, base: string, size: number): Promise<string> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const name = warmRuntimeName(namespace);
  const source = await custom.getClusterCustomObject({ ...RUNTIMES, name: base }) as ScriptRuntime;
  const { warmPool: _ignored, ...spec } = source.spec;
  await custom.createClusterCustomObject({
    ...RUNTIMES,
    body: {
      apiVersion: API_VERSION, kind: RUNTIME_KIND, metadata: { name, labels: { "scriptrun.dev/bench": namespace } },
      spec: { ...spec, warmPool: { size, namespaces: [namespace] } },
    } satisfies ScriptRuntime,
  });
  return name;
}

export async function runtimeStatus(kc: KubeConfig, name: string): Promise<ScriptRuntimeStatus | null> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const runtime = await custom.getClusterCustomObject({ ...RUNTIMES, name }).catch(() => undefined) as ScriptRuntime | undefined;
  return runtime?.status ?? null;
}

export async function deleteWarmRuntime(kc: KubeConfig, name: string): Promise<void> {
  await kc.makeApiClient(CustomObjectsApi).deleteClusterCustomObject({ ...RUNTIMES, name }).catch(() => undefined);
}

const POOL_TIMEOUT_MS = 180_000;

/** The pool full, so that what comes next starts from a quiet pool. */
export function poolFull(pool: PoolCounter, size: number): Promise<number> {
  return pool.waitUntil(`the warm pool to have ${size} ready pods`, (ready) => ready >= size, POOL_TIMEOUT_MS);
}

/** This host's busy CPU time so far, in ms: the user, nice, system, irq, softirq and steal ticks
 * of /proc/stat's first line (USER_HZ ticks, 100 a second on Linux); undefined where there is none. */
export function hostBusyMs(stat: string | undefined = existsSync("/proc/stat") ? readFileSync("/proc/stat", "utf8") : undefined): number | undefined {
  const fields = stat?.split("\n").find((line) => line.startsWith("cpu "))?.trim().split(/\s+/).slice(1).map(Number);
  if (!fields || fields.length < 8 || fields.some((n) => !Number.isFinite(n))) return undefined;
  const [user, nice, system, , , irq, softirq, steal = 0] = fields as [number, number, number, number, number, number, number, number?];
  return (user + nice + system + irq + softirq + steal) * 10;
}

export interface Refill {
  /** Claim → the pool full again. */
  ms: number;
  /** This host's busy CPU meanwhile (from the run's start): what one fresh pod costs the node, when
   * the cluster runs on this host as `make up`'s does. */
  hostCpuMs?: number;
}

/** Times the pool's refill `times` times: with the pool full, one warm ScriptRun of the hello
 * script claims a pod; from that claim (as the watch saw the pod leave the pool) until the pool is
 * full again. */
export async function measureRefill(ctx: BenchContext, pool: PoolCounter, size: number, times: number): Promise<Refill[]> {
  const run = pathRunner("warm-scriptrun", ctx, { gated: false });
  const refills: Refill[] = [];
  for (let i = 0; i < times; i++) {
    await poolFull(pool, size);
    const from = performance.now();
    const busyBefore = hostBusyMs();
    const sample = await run(WORKLOADS.hello);
    if (sample.error !== undefined) throw new Error(`A refill's run failed: ${sample.error}`);
    await pool.waitUntil("the pool to be claimed from and refilled", () => refillAfter(pool.history, from, size) !== undefined, POOL_TIMEOUT_MS);
    const busyAfter = hostBusyMs();
    const { claimedAt, fullAt } = refillAfter(pool.history, from, size)!;
    refills.push({ ms: fullAt - claimedAt, ...(busyBefore !== undefined && busyAfter !== undefined ? { hostCpuMs: busyAfter - busyBefore } : {}) });
  }
  return refills;
}

/** 2 × size warm /execute calls of the hello script at once, with the pool full. */
export async function measureBurst(ctx: BenchContext, pool: PoolCounter, size: number): Promise<WarmBurst> {
  const run = pathRunner("warm-execute", ctx, { gated: false });
  await poolFull(pool, size);
  const from = performance.now();
  const calls = 2 * size;
  const samples = await runBatch(calls, calls, () => run(WORKLOADS.hello));
  const refill = await pool.waitUntil("the pool to refill after the burst", () => refillAfter(pool.history, from, size) !== undefined,
    POOL_TIMEOUT_MS).then(() => refillAfter(pool.history, from, size)!, () => undefined);
  return tallyBurst(samples, size, refill ? refill.fullAt - refill.claimedAt : null);
}

/** An idle pool pod's CPU (averaged over `seconds`) and memory: the pool full and left alone for
 * 20 s first, so that no pod is still starting. From each pod's cgroup when the node is this
 * host, and from the kubelet's /stats/summary through the apiserver (cAdvisor's figures, as
 * `kubectl top` shows them; its CPU times are whole seconds, hence the long window). */
export async function measureIdlePod(kc: KubeConfig, namespace: string, runtime: string, pool: PoolCounter, size: number,
  seconds: number): Promise<{ cgroup: PodIdleUsage | null; statsSummary: PodIdleUsage | null }> {
  const core = kc.makeApiClient(CoreV1Api);
  await poolFull(pool, size);
  // Past cAdvisor's housekeeping interval too, so that its first sample is of a settled pod.
  await sleep(20_000);
  const pods = (await core.listNamespacedPod({ namespace, labelSelector: `${POOL_LABEL}=${runtime}` })).items
    .filter((p) => isReadyPoolPod(p, runtime));
  const names = pods.map((p) => p.metadata?.name ?? "");
  const node = pods[0]?.spec?.nodeName;
  const summary = async (): Promise<UsageReading[]> => {
    if (!node) return [];
    const text = await core.connectGetNodeProxyWithPath({ name: node, path: "stats/summary" }).catch(() => undefined);
    if (text === undefined) return [];
    return summaryReadings((typeof text === "string" ? JSON.parse(text) : text) as StatsSummary, namespace, names);
  };
  const cgroups = () => pods.flatMap((p) => {
    const reading = cgroupReading(p.metadata?.name ?? "", p.metadata?.uid ?? "");
    return reading ? [reading] : [];
  });
  const [statsBefore, cgroupBefore] = [await summary(), cgroups()];
  await sleep(seconds * 1000);
  const [statsAfter, cgroupAfter] = [await summary(), cgroups()];
  return { cgroup: idleUsage(cgroupBefore, cgroupAfter), statsSummary: idleUsage(statsBefore, statsAfter) };
}

// `make scale` (bench/scale/run.ts) and its short version in `make test`
// (test/cluster/scale.test.ts) run this: kwok and its fake nodes, a runtime placed on them, the
// real controller and API from dist/, then the runs phase and the callers phase, measured; and
// everything taken away again, whatever happened.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { statusCode } from "../../core/kube.js";
import { createLogger } from "../../core/log.js";
import { RUNTIMES } from "../../core/runtimeCatalog.js";
import { stopController } from "../../test/cluster/controller.js";
import { type Build, createNamespace, defaultRuntime, deleteNamespace, eventually } from "../../test/cluster/kube.js";
import { assertBuilt, peakRssDuring, scrape, startBenchApi, startBenchController } from "../processes.js";
import { total } from "../prometheus.js";
import { type Callers, measureCallers } from "./callers.js";
import { hostBusyMs } from "../warm.js";
import { cpuUse, pidOf, treeCpuMs } from "./cpu.js";
import { driveRuns } from "./drive.js";
import { PODS_PER_NODE, scaleRuntime } from "./fakeNodes.js";
import type { Controller } from "./options.js";
import { createFakeNodes, deleteFakeNodes, startKwok, stopKwok } from "./kwok.js";
import { type Accounted, type Figures, type Goal, type RunsPhase, figures, goals } from "./report.js";

const NAMESPACE_GONE_MS = 20 * 60_000;

/** This host's busy CPU so far: the cluster and the harness share it, so the shares need it. */
function busyNow(): number {
  const ms = hostBusyMs();
  if (ms === undefined) throw new Error("No /proc/stat on this host: make scale needs the cluster to run here");
  return ms;
}

export interface ScaleOptions {
  nodes: number;
  runs: number;
  inFlight: number;
  senders: number;
  /** Callers of the /execute phase; 0 skips it. */
  callers: number;
  stallMs: number;
  /** The controller and API from dist/ (as production runs them: make scale) or the sources (a test). */
  build: Build;
  /** The operator's controller, or the floor (floor.ts) in its place. */
  controller: Controller;
  signal: AbortSignal;
  say: (line: string) => void;
}

export interface ScaleResult {
  figures: Figures;
  runsPhase: RunsPhase;
  callers: Callers | null;
  goals: Goal[];
  /** The controller's caps (SCRIPTRUN_MAX_CONCURRENT_RUNS and per namespace) in the run. */
  caps: Record<string, string>;
  kwokLog: string;
}

/** The cluster's processes by their program's name, and this host's others by pid. */
function cpuReadings(pids: Record<Exclude<Accounted, "driver">, number>): Record<Accounted, number> {
  const own = process.cpuUsage();
  const out = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, treeCpuMs(pid)])) as Record<Accounted, number>;
  // This process alone: its children are the controller and the API.
  out.driver = (own.user + own.system) / 1000;
  return out;
}

/** How often the controller's gauges are read. Prometheus scrapes every 15 to 60 s; a scrape a
 * second cost the controller 24 ms of CPU per second (its /metrics code runs too seldom to be
 * optimized), 0.8 ms per run of the figure it was there to watch. */
const SAMPLE_EVERY_MS = 5000;

/** Samples the controller's queue gauges until stopped; their highest values. */
function sampleQueues(metricsUrl: string): { stop: () => Promise<{ depth: number; queued: number }> } {
  let depth = 0;
  let queued = 0;
  const stopping = new AbortController();
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      const samples = await scrape(metricsUrl).catch(() => []);
      depth = Math.max(depth, total(samples, "scriptrun_workqueue_depth"));
      queued = Math.max(queued, total(samples, "scriptrun_runs_queued"));
      await sleep(SAMPLE_EVERY_MS, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  })();
  return { stop: async () => { stopping.abort(); await loop; return { depth, queued }; } };
}

/** Deletes the namespace and waits until it is gone (kwok, still running, ends the pods left on fake
 * nodes), so that the next user of the cluster does not find the apiserver still busy with it:
 * it deletes the runs and their Events one by one, some 4 minutes for 11 000 runs on 2 cores. */
async function removeNamespace(kc: KubeConfig, namespace: string, say: (line: string) => void): Promise<void> {
  const began = performance.now();
  await deleteNamespace(namespace);
  const core = kc.makeApiClient(CoreV1Api);
  await eventually(`namespace ${namespace} to be gone`, async () => {
    const gone = await core.readNamespace({ name: namespace }).then(() => false, (err: unknown) => {
      if (statusCode(err) === 404) return true;
      throw err;
    });
    return gone || undefined;
  }, NAMESPACE_GONE_MS);
  say(`  namespace ${namespace} deleted in ${Math.round((performance.now() - began) / 1000)} s`);
}

export async function runScale(kc: KubeConfig, options: ScaleOptions): Promise<ScaleResult> {
  const { say, build } = options;
  if (build === "dist") assertBuilt();
  const kubeconfig = process.env.KUBECONFIG;
  if (!kubeconfig) throw new Error("KUBECONFIG must name the cluster (kwok is given it)");
  const log = createLogger("warn", "scale");
  const custom = kc.makeApiClient(CustomObjectsApi);
  const undo: Array<() => Promise<void>> = [];
  const kwokLog = join(tmpdir(), `scriptrun-scale-kwok-${process.pid}.log`);
  try {
    say(`Starting kwok (log: ${kwokLog}) and ${options.nodes} fake nodes`);
    const kwok = startKwok(kubeconfig, kwokLog);
    undo.push(() => stopKwok(kwok));
    undo.push(() => deleteFakeNodes(kc));
    const began = performance.now();
    await createFakeNodes(kc, options.nodes, kwok);
    say(`  ${options.nodes} fake nodes ready in ${Math.round(performance.now() - began)} ms`);

    const namespace = await createNamespace("scale");
    undo.push(() => removeNamespace(kc, namespace, say));
    const runtime = `scale-${namespace}`;
    // The image and limits of the cluster's default runtime (make up's `python`).
    const base = await defaultRuntime();
    await custom.createClusterCustomObject({ ...RUNTIMES, body: scaleRuntime(runtime, namespace, base.spec) });
    undo.push(() => custom.deleteClusterCustomObject({ ...RUNTIMES, name: runtime }).then(() => undefined));

    // Room for a pod on every fake node's every place: the caps are not what is measured.
    const cap = String(options.nodes * PODS_PER_NODE);
    const caps = { SCRIPTRUN_MAX_CONCURRENT_RUNS: cap, SCRIPTRUN_MAX_CONCURRENT_RUNS_PER_NAMESPACE: cap };
    const controller = await startBenchController(namespace, caps, build, options.controller === "floor" ? "bench/scale/floor" : "operator/main");
    undo.push(() => stopController(controller.child));
    // The simulated nodes' runs wait in the control plane, not on image pulls or long scripts: the
    // case SCRIPTRUN_API_HOLD_WHEN_FULL is for (api/README.md, "Overload is refused early").
    const api = await startBenchApi(namespace, build, { SCRIPTRUN_API_HOLD_WHEN_FULL: "true" });
    undo.push(() => stopController(api.child));
    const pids = { controller: controller.child.pid!, api: api.child.pid! };
    const cluster = {
      apiserver: pidOf("kube-apiserver"), etcd: pidOf("etcd"), scheduler: pidOf("kube-scheduler"),
      controllerManager: pidOf("kube-controller-manager"), kwok: kwok.pid!,
    };

    say(`Runs: ${options.runs} through POST /runs on ${runtime}, at most ${options.inFlight} unfinished, ${options.senders} senders`);
    const queues = sampleQueues(controller.metricsUrl);
    const cpuBefore = cpuReadings({ ...pids, ...cluster });
    const busyBefore = busyNow();
    const { result: drive, peakMiB } = await peakRssDuring(pids, () => driveRuns(kc, namespace, {
      apiUrl: api.url, runtime, runs: options.runs, inFlight: options.inFlight, senders: options.senders,
      stallMs: options.stallMs, signal: options.signal, say,
    }, log));
    const hostBusy = busyNow() - busyBefore;
    const cpu = cpuUse(cpuBefore, cpuReadings({ ...pids, ...cluster }), hostBusy) as RunsPhase["cpu"];
    const peaks = await queues.stop();
    const runsPhase: RunsPhase = {
      drive, cpu, hostBusyMs: hostBusy, rssMiB: peakMiB, maxWorkqueueDepth: peaks.depth, maxRunsQueued: peaks.queued,
    };
    const result = figures(runsPhase);
    say(`  ${result.runs} sent, ${result.runs - result.refused - result.lost} finished (${result.wrong} wrong), ${result.lost} lost, ` +
      `${result.completed_runs_per_s} runs/s`);

    let callers: Callers | null = null;
    if (options.callers > 0 && !options.signal.aborted) {
      say(`Callers: ${options.callers} waiting on POST /execute at once`);
      callers = await measureCallers(api.url, runtime, options.callers, pids);
      say(`  ${callers.right} right, ${callers.refused} refused (429, p50 ${callers.refusedP50Ms} ms, max ${callers.refusedMaxMs} ms), ${callers.timedOut} timed out (504) in ${callers.elapsedMs} ms; ` +
        `API peak RSS ${callers.apiRssMiB} MiB, CPU ${callers.apiCpuMs} ms`);
    }
    // The goals are the operator's: the floor is measured beside them, not against them.
    return { figures: result, runsPhase, callers, goals: options.controller === "operator" ? goals(result, runsPhase, callers) : [], caps, kwokLog };
  } finally {
    say("Cleaning up: the controller and the API, the namespace, the runtime, the fake nodes, kwok");
    for (const step of undo.reverse()) {
      await step().catch((err: unknown) => say(`  cleanup step failed: ${err instanceof Error ? err.message : String(err)}`));
    }
  }
}

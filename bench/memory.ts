// The controller's memory with many finished ScriptRuns in its cache. The fixture: N runs of the
// hello script whose status (Succeeded, with its result, conditions and times, as the controller
// itself writes it: runStatus.finishedStatus) is written straight through the status subresource.
// A finished run without a pod costs the controller one cheap reconcile (afterFinish: no pod to
// delete, no TTL), so no pod is ever made. The controller starts after the fixture is in place,
// lists it, reconciles every run once, and its resident set is read once it settled; so is that of
// a controller started before the fixture, with nothing to cache.
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeConfig } from "@kubernetes/client-node";
import { isoTime } from "../core/time.js";
import { API_VERSION, KIND, type ScriptRun } from "../crds/schema.js";
import type { Config } from "../operator/config.js";
import { ClientKube } from "../operator/kube.js";
import { podNameFor } from "../operator/names.js";
import { finishedStatus } from "../operator/runStatus.js";
import { jsonBytes } from "../operator/statusBudget.js";
import { createRun, getRun, stopController } from "../test/cluster/controller.js";
import { createNamespace, deleteNamespace, eventually } from "../test/cluster/kube.js";
import { runBatch } from "./load.js";
import { type ControllerProcess, rssMiB, scrape, startBenchController } from "./processes.js";
import { total } from "./prometheus.js";
import { round1 } from "./stats.js";
import { WORKLOADS } from "./workload.js";

const IN_FLIGHT = 32;
const SETTLE_MS = 30_000;

export interface MemoryResult {
  runs: number;
  /** Size of one fixture run as the apiserver returns it (managed fields and all), as JSON. */
  bytesPerRun: number;
  /** The controller's resident set with the runs cached once it settled, its highest, and its V8 heap in use. */
  rssMiB: number;
  /** The same, settled, for a controller with nothing to cache. */
  idleRssMiB: number;
  peakRssMiB: number;
  heapUsedMiB: number;
  /** How long the controller took from start to having reconciled every run once. */
  syncSeconds: number;
  fixtureSeconds: number;
}

function fixtureRun(namespace: string, name: string, now: number, config: Config): ScriptRun {
  const run: ScriptRun = {
    apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace, generation: 1 },
    spec: { script: WORKLOADS.hello.script } as ScriptRun["spec"],
  };
  run.status = finishedStatus(run, {
    result: "hello", stdout: "", stderr: "", exitCode: 0, durationMs: 150, podName: podNameFor(name),
    sandbox: { backend: "bubblewrap", memory: "rlimit" }, startedAt: isoTime(now - 1000), finishedAt: isoTime(now),
  }, config, now);
  return run;
}

/** V8 gives back the memory of start-up's and the initial list's garbage only after a while of
 * quiet: the settled resident set is the most of three reads a second apart, after that while. */
async function settledRssMiB(controller: ControllerProcess): Promise<number> {
  await sleep(SETTLE_MS);
  let rss = 0;
  for (let i = 0; i < 3; i++, await sleep(1000)) rss = Math.max(rss, rssMiB(controller.child.pid!));
  return round1(rss);
}

export async function controllerMemory(kc: KubeConfig, config: Config, runs: number, log: (line: string) => void): Promise<MemoryResult> {
  const namespace = await createNamespace("bench-rss");
  try {
    const empty = await startBenchController(namespace);
    let idleRssMiB: number;
    try {
      idleRssMiB = await settledRssMiB(empty);
    } finally {
      await stopController(empty.child);
    }
    const kube = new ClientKube(kc);
    const now = Date.now();
    const began = performance.now();
    let made = 0;
    let written = 0;
    await runBatch(runs, IN_FLIGHT, async () => {
      const run = fixtureRun(namespace, `fixture-${String(made++).padStart(5, "0")}`, now, config);
      await createRun(namespace, run.metadata.name!, run.spec);
      if (!await kube.patchRunStatus(namespace, run.metadata.name!, { type: "merge", status: run.status! })) {
        throw new Error(`Fixture run ${run.metadata.name} vanished`);
      }
      if (++written % 1000 === 0) log(`  ${written} of ${runs} fixture runs written`);
    });
    const fixtureSeconds = (performance.now() - began) / 1000;
    const started = performance.now();
    const controller = await startBenchController(namespace);
    try {
      // Every run listed and reconciled once: as many pickups as runs, and nothing left waiting.
      await eventually("the controller to reconcile every fixture run", async () => {
        const metrics = await scrape(controller.metricsUrl);
        const picked = total(metrics, "scriptrun_stage_duration_seconds_count", { stage: "queue" });
        return picked >= runs && total(metrics, "scriptrun_workqueue_depth") === 0 ? true : undefined;
      }, 600_000);
      const syncSeconds = (performance.now() - started) / 1000;
      const rss = await settledRssMiB(controller);
      const heap = total(await scrape(controller.metricsUrl), "scriptrun_controller_nodejs_heap_size_used_bytes") / 1024 ** 2;
      return {
        runs, bytesPerRun: jsonBytes(await getRun(namespace, "fixture-00000")), rssMiB: rss, idleRssMiB,
        peakRssMiB: round1(rssMiB(controller.child.pid!, "VmHWM")), heapUsedMiB: round1(heap),
        syncSeconds: round1(syncSeconds), fixtureSeconds: round1(fixtureSeconds),
      };
    } finally {
      await stopController(controller.child);
    }
  } finally {
    await deleteNamespace(namespace);
  }
}

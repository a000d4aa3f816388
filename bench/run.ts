// `make bench` (scripts/bench.sh runs this): the same scripts through /execute, as ScriptRuns, as
// plain Jobs and straight through the harness on the host, and through /execute and as ScriptRuns on
// a runtime with a warm pool; the pool's refill, a burst on it and an idle pool pod's cost;
// preflight alone; sustained throughput beside the node's bare pod churn, and what a run costs the
// node beyond a bare pod; the controller's memory with many runs cached. Prints a table and writes
// bench/results/latest.json and bench/results/stages.svg. bench/README.md explains every figure.
// Needs the cluster of KUBECONFIG with the CRD and the runner image, and a built dist/.
import { execFileSync } from "node:child_process";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BatchV1Api, CoreV1Api, CustomObjectsApi, type KubernetesListObject, type KubernetesObject, type V1Job, type V1Pod } from "@kubernetes/client-node";
import { CREATED_BY_LABEL } from "../api/runStore.js";
import { RUNS, runsPath } from "../core/kube.js";
import { createLogger } from "../core/log.js";
import { PreflightClient } from "../core/preflight.js";
import { resolveRequest } from "../core/request.js";
import { runtimeLimits } from "../core/runtime.js";
import { type Config, loadConfig } from "../operator/config.js";
import { MANAGED_BY, MANAGED_BY_LABEL } from "../operator/names.js";
import { POOL_LABEL } from "../operator/warmPool.js";
import { stopController } from "../test/cluster/controller.js";
import { createNamespace, defaultRuntime, deleteNamespace, eventually, kc } from "../test/cluster/kube.js";
import { type Scrape, overheads, segmentsOf, stageMeans, warmMarks } from "./breakdown.js";
import { renderChart } from "./chart.js";
import { measureChurn } from "./churn.js";
import { type WindowTotals, beyond, costOf, costTable, openWindow } from "./cost.js";
import type { Component } from "./cpuAccount.js";
import { runBatch, runFor } from "./load.js";
import { machine, versions } from "./machine.js";
import { controllerMemory } from "./memory.js";
import { type BenchOptions, benchOptions, isWarmPath } from "./options.js";
import { measureOverload } from "./overload.js";
import { type BenchContext, HOST_PYTHON, RUNNER_PATH, type RunSample, pathRunner, postExecute, runProcess } from "./paths.js";
import { type ControllerProcess, assertBuilt, scrape, startBenchController, startBenchApi } from "./processes.js";
import { total } from "./prometheus.js";
import {
  type BatchResult, type Results, type Throughput, baselineOf, chartRows, goalTable, goals, headline, latencyTable,
} from "./report.js";
import { type Summary, mean, round1, summarize } from "./stats.js";
import {
  PoolCounter, WarmGate, type WarmResult, createWarmRuntime, deleteWarmRuntime, isReadyPoolPod, measureBurst, measureIdlePod,
  measureRefill, poolFull, runtimeStatus,
} from "./warm.js";
import { ObjectWatch, PodTimeline, RunTimeline } from "./watch.js";
import { SYNTAX_ERROR, WORKLOADS } from "./workload.js";

const say = (line: string) => console.error(line);
/** BENCH_WARM_WAIT=quiet: after the pool is full, long enough for the claimed pods of the runs
 * before to be gone and the new pods' runners to have started their sandboxes. */
const QUIET_MS = 3000;
const interrupted = new AbortController();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    say(`Received ${signal}: stopping after the runs in flight, then cleaning up`);
    interrupted.abort();
  });
}

function checkInterrupted(): void {
  if (interrupted.signal.aborted) throw new Error("Interrupted");
}

/** Times `call`, in milliseconds. */
async function timeIt(call: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await call();
  return performance.now() - start;
}

async function scrapeBoth(controller: ControllerProcess, apiUrl: string): Promise<Scrape> {
  const [c, a] = await Promise.all([scrape(controller.metricsUrl), scrape(apiUrl)]);
  return { controller: c, api: a };
}

/** How the right answers' runs started, and each kind's latencies. */
function startsOf(ok: readonly RunSample[]): Pick<BatchResult, "starts" | "startLatency"> {
  const ms = (warm: boolean) => ok.filter((s) => (s.run?.start === "warm") === warm).map((s) => s.end - s.start);
  const [warm, cold] = [ms(true), ms(false)];
  return {
    starts: { warm: warm.length, cold: cold.length },
    startLatency: { warm: warm.length > 0 ? summarize(warm) : null, cold: cold.length > 0 ? summarize(cold) : null },
  };
}

async function measureBatches(ctx: BenchContext, controller: ControllerProcess, options: BenchOptions, results: Results,
  pool: PoolCounter | undefined): Promise<void> {
  if (options.runs === 0) return;
  // A warm batch's runs wait for a ready pod each: more in flight than the pool has would only queue at the gate.
  const measured = (path: BenchOptions["paths"][number], concurrency: number) => !isWarmPath(path) || concurrency <= options.warmPool;
  say("Warming up every path with every script once (not counted)");
  for (const path of options.paths) {
    for (const name of options.workloads) {
      const sample = await pathRunner(path, ctx)(WORKLOADS[name]);
      if (sample.error) say(`  warm-up ${path}/${name} failed: ${sample.error}`);
    }
  }
  for (const name of options.workloads) {
    for (const concurrency of options.concurrency) {
      for (const path of options.paths.filter((p) => measured(p, concurrency))) {
        checkInterrupted();
        // Every batch starts with the pool full: no batch pays for the refill of the one before.
        if (pool) await poolFull(pool, options.warmPool);
        const run = pathRunner(path, ctx);
        const viaController = path !== "job" && path !== "direct";
        const warm = isWarmPath(path);
        const before = viaController ? await scrapeBoth(controller, ctx.apiUrl) : undefined;
        const samples = await runBatch(options.runs, concurrency, () => {
          checkInterrupted();
          return run(WORKLOADS[name]);
        });
        const ok = samples.filter((s) => s.error === undefined);
        const firstError = samples.find((s) => s.error !== undefined)?.error;
        // A warm path's figures are of its runs that started warm; any that started cold are counted in `starts`.
        const counted = warm ? ok.filter((s) => s.run?.start === "warm") : ok;
        const result: BatchResult = {
          path, workload: name, concurrency, latency: summarize(counted.map((s) => s.end - s.start)),
          errors: samples.length - ok.length, ...(firstError !== undefined ? { firstError } : {}), segments: [],
          ...(viaController ? startsOf(ok) : {}),
        };
        if (before) {
          // The last runs' stages are observed just after their status is written: wait for them.
          const finishedBefore = total(before.controller, "scriptrun_runs_finished_total");
          await eventually("the controller to record the batch", async () =>
            total(await scrape(controller.metricsUrl), "scriptrun_runs_finished_total") - finishedBefore >= samples.length || undefined,
          15_000).catch(() => undefined);
          const stages = stageMeans(before, await scrapeBoth(controller, ctx.apiUrl));
          result.stages = stages;
          if (!warm) {
            result.overhead = summarize(overheads(samples));
            result.overheadVsStagesMs = round1(mean(ok.map((s) => s.end - s.start)) - stages.pod_started.meanMs - stages.execution.meanMs);
          }
        }
        result.segments = segmentsOf(path, samples, result.stages);
        const marks = warm ? warmMarks(samples) : undefined;
        if (marks) result.warmMarks = marks;
        results.batches.push(result);
        const cold = warm && result.starts && result.starts.cold > 0 ? `  ${result.starts.cold} started cold (left out)` : "";
        say(`  ${path.padEnd(14)} ${name.padEnd(5)} c=${String(concurrency).padEnd(2)} p50 ${result.latency.p50} ms  p95 ${result.latency.p95} ms` +
          `${result.errors ? `  ${result.errors} errors (${result.firstError})` : ""}${cold}`);
      }
    }
  }
}

/** The warm runtime's own figures: refill, burst, an idle pool pod, its status. */
async function measureWarm(ctx: BenchContext, pool: PoolCounter, options: BenchOptions, firstFillMs: number | null): Promise<WarmResult> {
  const { runtime } = ctx.warm!;
  const size = options.warmPool;
  say(`Warm pool: its refill (${options.warmRefills} times), a burst of ${2 * size} at once, an idle pod's CPU and memory`);
  const refills = await measureRefill(ctx, pool, size, options.warmRefills);
  const refill = summarize(refills.map((r) => r.ms));
  const cpu = refills.flatMap((r) => (r.hostCpuMs === undefined ? [] : [r.hostCpuMs]));
  const refillHostCpu = cpu.length > 0 ? summarize(cpu) : null;
  say(`  refill (claim → ${size}/${size} ready): p50 ${refill.p50} ms, max ${refill.max} ms` +
    (refillHostCpu ? `; this host's CPU busy meanwhile: p50 ${refillHostCpu.p50} ms` : ""));
  const burst = await measureBurst(ctx, pool, size);
  say(`  burst of ${burst.calls}: p50 ${burst.latency.p50} ms p95 ${burst.latency.p95} ms; ${burst.servedWarm} warm, ${burst.servedCold} cold, ` +
    `${burst.errors} errors; pool full again ${burst.refillMs} ms after its first claim`);
  const backToBack = await measureBackToBack(ctx, pool, options.runs);
  if (backToBack) say(`  back to back (each run waits only for one ready pod): p50 ${backToBack.p50} ms p95 ${backToBack.p95} ms`);
  const idlePod = await measureIdlePod(ctx.kc, ctx.namespace, runtime, pool, size, options.warmIdleSeconds);
  for (const [source, usage] of Object.entries(idlePod)) {
    if (usage) say(`  idle pool pod (${source}, ${usage.pods} pods, ${usage.seconds} s): ${usage.cpuMillicores} millicores (max ${usage.cpuMillicoresMax}), ` +
      `working set ${usage.workingSetMiB} MiB, RSS ${usage.rssMiB} MiB`);
  }
  return { runtime, poolSize: size, wait: options.warmWait, firstFillMs, refill, refillHostCpu, burst, backToBack, idlePod,
    status: await runtimeStatus(ctx.kc, runtime) };
}

/** `runs` hello /execute calls one after the other, each waiting only until one pool pod is ready:
 * every run shares the node with the refills of the runs before it. Of the runs that started warm. */
async function measureBackToBack(ctx: BenchContext, pool: PoolCounter, runs: number): Promise<Summary | null> {
  await poolFull(pool, ctx.warm!.gate.need);
  const gate = new WarmGate(() => pool.ready, 1);
  const stop = pool.onChange(() => gate.changed());
  try {
    const run = pathRunner("warm-execute", { ...ctx, warm: { ...ctx.warm!, gate, settleMs: 0 } });
    const samples = await runBatch(runs, 1, () => {
      checkInterrupted();
      return run(WORKLOADS.hello);
    });
    const warm = samples.filter((s) => s.error === undefined && s.run?.start === "warm");
    return warm.length > 0 ? summarize(warm.map((s) => s.end - s.start)) : null;
  } finally {
    stop();
  }
}

async function measurePreflight(ctx: BenchContext, config: Config, options: BenchOptions, results: Results): Promise<void> {
  if (options.preflightRuns === 0) return;
  say("Preflight: a syntax error through /execute (answered with no run and no pod), and straight to the preflight client");
  // Each check a script of its own: one asked again is answered from the client's cache.
  let asked = 0;
  const script = () => `${SYNTAX_ERROR}# check ${++asked}\n`;
  const refused = async (source: string) => {
    const { status, body } = await postExecute(ctx.apiUrl, source);
    if (status !== 200 || body.name !== null || body.error?.type !== "syntax_error") {
      throw new Error(`Expected a syntax_error answered at once, got ${status} ${JSON.stringify(body).slice(0, 200)}`);
    }
  };
  const request = () => {
    const resolved = resolveRequest({ script: script() }, runtimeLimits(ctx.runtime, config.maxScriptBytes));
    if (!resolved.ok) throw new Error(resolved.reasons.join("; "));
    return resolved.request;
  };
  const client = new PreflightClient({ ...config.preflight, runnerPath: RUNNER_PATH });
  try {
    await client.check(request());
    for (const concurrency of options.concurrency) {
      checkInterrupted();
      const api = await runBatch(options.preflightRuns, concurrency, () => {
        const source = script();
        return timeIt(() => refused(source));
      });
      const direct = await runBatch(options.preflightRuns, concurrency, () => {
        const checked = request();
        return timeIt(() => client.check(checked));
      });
      results.preflight.api[concurrency] = summarize(api);
      results.preflight.direct[concurrency] = summarize(direct);
      say(`  c=${concurrency}: API p50 ${results.preflight.api[concurrency]!.p50} ms p95 ${results.preflight.api[concurrency]!.p95} ms; ` +
        `client p50 ${results.preflight.direct[concurrency]!.p50} ms p95 ${results.preflight.direct[concurrency]!.p95} ms`);
    }
  } finally {
    await client.close();
  }
}

async function apiRuns(namespace: string): Promise<Array<{ metadata: { name: string }; status?: { phase?: string } }>> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const list = await custom.listNamespacedCustomObject({ ...RUNS, namespace,
    labelSelector: `${CREATED_BY_LABEL}=api` }) as { items: Array<{ metadata: { name: string }; status?: { phase?: string } }> };
  return list.items;
}

/** The throughput phase, and the node's cost over it: from the first run sent until the last of
 * its runner pods is gone (the controller deletes each once its run is done, as the bare pods are
 * deleted before they count). `runnerPods`: the controller's pods in the bench's watch. */
async function measureThroughput(ctx: BenchContext, options: BenchOptions, roots: Partial<Record<Component, number>>,
  runnerPods: PoolCounter): Promise<{ throughput: Throughput; totals: WindowTotals }> {
  const { throughputSeconds: seconds, throughputConcurrency: clients } = options;
  say(`Throughput: ${clients} clients sending the hello script to /execute back to back for ${seconds} s`);
  const existing = new Set((await apiRuns(ctx.namespace)).map((r) => r.metadata.name));
  const window = await openWindow(ctx.kc, roots);
  const { results, elapsedMs } = await runFor(seconds * 1000, clients, async () => {
    const start = performance.now();
    try {
      const { status, body, at } = await postExecute(ctx.apiUrl, WORKLOADS.hello.script);
      return { status, right: status === 200 && body.success === true && WORKLOADS.hello.check(body.result, "") === undefined, ms: at - start };
    } catch {
      return { status: 0, right: false, ms: performance.now() - start };
    }
  });
  await runnerPods.waitUntil("the throughput phase's runner pods to be gone", (n) => n === 0, 120_000);
  const totals = await window.close();
  // Every run the API created must have finished by now: its answer came back.
  const created = (await apiRuns(ctx.namespace)).filter((r) => !existing.has(r.metadata.name));
  const createdByPhase: Record<string, number> = {};
  for (const run of created) createdByPhase[run.status?.phase ?? "none"] = (createdByPhase[run.status?.phase ?? "none"] ?? 0) + 1;
  const succeeded = results.filter((r) => r.right).length;
  const throughput: Throughput = {
    seconds, clients, sent: results.length, answered: results.filter((r) => r.status === 200).length, succeeded,
    created: created.length, createdByPhase, lost: results.length - succeeded,
    runsPerSecond: Math.round((succeeded / (elapsedMs / 1000)) * 100) / 100,
    latency: summarize(results.filter((r) => r.right).map((r) => r.ms)),
  };
  say(`  ${throughput.runsPerSecond} runs/s: sent ${throughput.sent}, answered ${throughput.answered}, right ${succeeded}, ` +
    `ScriptRuns created ${throughput.created} (${JSON.stringify(createdByPhase)})`);
  return { throughput, totals };
}

function watches(namespace: string, pods: PodTimeline, runs: RunTimeline, podsChanged: (at: number) => void) {
  const log = createLogger("warn", "scriptrun-bench");
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  return {
    runs: new ObjectWatch<KubernetesObject>(kc, {
      what: "scriptruns", path: runsPath(namespace),
      list: () => custom.listNamespacedCustomObject({ ...RUNS, namespace }) as Promise<KubernetesListObject<KubernetesObject>>,
    }, log, (run, at) => runs.record(run, at)),
    jobs: new ObjectWatch<V1Job>(kc, {
      what: "jobs", path: `/apis/batch/v1/namespaces/${namespace}/jobs`, list: () => batch.listNamespacedJob({ namespace }),
    }, log),
    pods: new ObjectWatch<V1Pod>(kc, {
      what: "pods", path: `/api/v1/namespaces/${namespace}/pods`, list: () => core.listNamespacedPod({ namespace }),
    }, log, (pod, at) => {
      pods.record(pod, at);
      podsChanged(at);
    }, (_pod, at) => podsChanged(at)),
  };
}

/** The committed latest.json, the cold path's figures before this checkout's changes. */
function baseline(): Results["baseline"] {
  const source = "git HEAD:bench/results/latest.json";
  try {
    return baselineOf(source, execFileSync("git", ["show", "HEAD:bench/results/latest.json"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
  } catch {
    return undefined;
  }
}

/** Writes `text` to `path` whole or not at all. */
function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

async function main(): Promise<void> {
  const options = benchOptions(process.env);
  assertBuilt();
  const config = loadConfig(process.env, []);
  const started = new Date();
  const [host, pinned] = [machine(), await versions(kc)];
  say(`Benchmarking on ${host.cpu}, ${host.cores} cores, ${host.memoryGiB} GiB, Kubernetes ${pinned.kubernetes}` +
    `${options.quick ? " (quick mode: BENCH_QUICK=1)" : ""}`);
  const results: Results = { batches: [], preflight: { api: {}, direct: {} } };

  const runtime = await defaultRuntime();
  const namespace = await createNamespace("bench");
  const timeline = new PodTimeline();
  const runLives = new RunTimeline();
  // The warm runtime's pool as the pod watch sees it; its gate lets warm runs go one ready pod at a time.
  let warmRuntime: string | undefined;
  const pool = options.warmPool > 0 ? new PoolCounter(() => watched.pods.list().filter((p) => isReadyPoolPod(p, warmRuntime ?? "")).length) : undefined;
  const gate = pool ? new WarmGate(() => pool.ready, options.warmWait === "ready" ? 1 : options.warmPool) : undefined;
  pool?.onChange(() => gate?.changed());
  const runnerPods = new PoolCounter(() => watched.pods.list().filter((p) => p.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY).length);
  const watched = watches(namespace, timeline, runLives, (at) => {
    pool?.update(at);
    runnerPods.update(at);
  });
  let controller: ControllerProcess | undefined;
  let api: Awaited<ReturnType<typeof startBenchApi>> | undefined;
  try {
    await Promise.all([watched.runs.start(), watched.jobs.start(), watched.pods.start()]);
    // Before the controller and the API start, so that both know it from their first list.
    const created = performance.now();
    if (pool) {
      warmRuntime = await createWarmRuntime(kc, namespace, runtime.name, options.warmPool);
      say(`Created runtime ${warmRuntime}: ${runtime.name}'s spec with a warm pool of ${options.warmPool} in ${namespace}`);
    }
    controller = await startBenchController(namespace);
    api = await startBenchApi(namespace);
    const ctx: BenchContext = {
      kc, namespace, apiUrl: api.url, config, runtime, runs: watched.runs, jobs: watched.jobs, pods: timeline, runLives,
      ...(warmRuntime && gate ? { warm: { runtime: warmRuntime, gate, settleMs: options.warmWait === "quiet" ? QUIET_MS : 0 } } : {}),
    };
    let firstFillMs: number | null = null;
    if (pool) {
      firstFillMs = round1(await poolFull(pool, options.warmPool) - created);
      say(`  its pool was full ${firstFillMs} ms after the runtime was created`);
    }
    if (options.paths.includes("direct") && options.runs > 0) {
      results.pythonStartup = summarize(await runBatch(options.runs, 1, () => timeIt(() => runProcess(HOST_PYTHON, ["-c", "pass"]))));
    }
    await measureBatches(ctx, controller, options, results, pool);
    if (pool && warmRuntime) {
      checkInterrupted();
      results.warm = await measureWarm(ctx, pool, options, firstFillMs);
      // The phases below measure the cold path as before warm start: no pool in the namespace.
      await deleteWarmRuntime(kc, warmRuntime);
      await eventually("the warm pool's pods to be gone", async () =>
        watched.pods.list().some((p) => p.metadata?.labels?.[POOL_LABEL] === warmRuntime) ? undefined : true, 120_000).catch(() => undefined);
    }
    await measurePreflight(ctx, config, options, results);
    if (options.throughputSeconds > 0) {
      const roots = { controller: controller.child.pid!, api: api.child.pid!, bench: process.pid };
      const { throughput, totals } = await measureThroughput(ctx, options, roots, runnerPods);
      results.throughput = throughput;
      checkInterrupted();
      // Right after the throughput phase, so that both see the same node.
      say(`Bare pod churn: ${options.throughputConcurrency} clients creating, awaiting and deleting bare runner pods for ${options.throughputSeconds} s`);
      const window = await openWindow(kc, roots);
      const churn = await measureChurn(ctx, watched.pods, options.throughputSeconds, options.throughputConcurrency);
      const churnTotals = await window.close();
      results.churn = churn;
      say(`  ${churn.podsPerSecond} pods/s: created ${churn.created}, completed and deleted ${churn.completed}, failed ${churn.failed}`);
      const [run, bare] = [costOf(totals, throughput.succeeded), costOf(churnTotals, churn.completed)];
      results.cost = { throughput: run, churn: bare, beyondBarePod: beyond(run, bare) };
    }
    if (options.overload.length > 0) {
      results.overload = await measureOverload(ctx, options.overload, options.overloadWarmup,
        { api: api.child.pid!, controller: controller.child.pid! }, say);
    }
  } finally {
    await Promise.all([watched.runs.stop(), watched.jobs.stop(), watched.pods.stop()]);
    if (api) await stopController(api.child);
    if (controller) await stopController(controller.child);
    if (warmRuntime) await deleteWarmRuntime(kc, warmRuntime);
    await deleteNamespace(namespace);
  }
  if (options.fixtureRuns > 0) {
    checkInterrupted();
    say(`Memory: the controller with ${options.fixtureRuns} finished ScriptRuns in its cache`);
    results.memory = await controllerMemory(kc, config, options.fixtureRuns, say);
    say(`  RSS ${results.memory.rssMiB} MiB (peak ${results.memory.peakRssMiB}, idle ${results.memory.idleRssMiB}), heap ${results.memory.heapUsedMiB} MiB, ` +
      `${results.memory.bytesPerRun} bytes per run`);
  }

  results.baseline = baseline();
  const figures = headline(results);
  const report = {
    ...figures,
    date: started.toISOString(),
    quick: options.quick,
    options,
    machine: host,
    versions: pinned,
    goals: goals(figures, results, host.cpu),
    ...results,
  };
  mkdirSync(options.outDir, { recursive: true });
  writeAtomically(join(options.outDir, "latest.json"), `${JSON.stringify(report, null, 2)}\n`);
  writeAtomically(join(options.outDir, "stages.svg"), renderChart({
    title: "Where the time of a run goes (mean per run)",
    subtitle: `${host.cpu}, ${host.cores} cores; Kubernetes ${pinned.kubernetes}; ${options.runs} runs per bar; ${started.toISOString().slice(0, 16)}Z` +
      `${options.quick ? " (quick mode)" : ""}`,
    rows: chartRows(results),
  }));

  console.log(latencyTable(results));
  console.log("");
  console.log(goalTable(report.goals));
  if (results.cost) {
    console.log(`\nWhat a run costs the node (${results.cost.throughput.completed} runs in ${results.cost.throughput.windowMs} ms) ` +
      `against a bare pod (${results.cost.churn.completed} pods in ${results.cost.churn.windowMs} ms), per run or pod:`);
    console.log(costTable(results.cost.throughput, results.cost.churn));
  }
  const warm = results.warm;
  if (warm) {
    console.log("");
    console.log(`Warm pool of ${warm.poolSize} (warm runs waited for: ${warm.wait === "ready" ? "a ready pod" : `the pool ${warm.wait}`}): refill p50 ${warm.refill?.p50 ?? "-"} ms (max ${warm.refill?.max ?? "-"}); ` +
      `burst of ${warm.burst?.calls ?? "-"}: p50 ${warm.burst?.latency.p50 ?? "-"} ms, p95 ${warm.burst?.latency.p95 ?? "-"} ms, ` +
      `${warm.burst?.servedWarm ?? "-"} served warm, ${warm.burst?.servedCold ?? "-"} cold`);
    for (const [source, usage] of Object.entries(warm.idlePod ?? {})) {
      if (usage) console.log(`Idle pool pod (${source}): ${usage.cpuMillicores} millicores, working set ${usage.workingSetMiB} MiB, RSS ${usage.rssMiB} MiB`);
    }
  }
  console.log(`\nWrote ${join(options.outDir, "latest.json")} and ${join(options.outDir, "stages.svg")}`);
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error("The benchmark failed:", err);
  process.exit(1);
});

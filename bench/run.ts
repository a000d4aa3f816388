// `make bench` (scripts/bench.sh runs this): the same scripts through /execute, as ScriptRuns, as
// plain Jobs and straight through the harness on the host; preflight alone; sustained throughput;
// the controller's memory with many runs cached. Prints a table and writes
// bench/results/latest.json and bench/results/stages.svg. bench/README.md explains every figure.
// Needs the cluster of KUBECONFIG with the CRD and the runner image, and a built dist/.
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
import { stopController } from "../test/cluster/controller.js";
import { createNamespace, defaultRuntime, deleteNamespace, eventually, kc } from "../test/cluster/kube.js";
import { type Scrape, overheads, segmentsOf, stageMeans } from "./breakdown.js";
import { renderChart } from "./chart.js";
import { runBatch, runFor } from "./load.js";
import { machine, versions } from "./machine.js";
import { controllerMemory } from "./memory.js";
import { type BenchOptions, benchOptions } from "./options.js";
import { measureOverload } from "./overload.js";
import { type BenchContext, HOST_PYTHON, RUNNER_PATH, pathRunner, postExecute, runProcess } from "./paths.js";
import { type ControllerProcess, assertBuilt, scrape, startBenchController, startBenchApi } from "./processes.js";
import { total } from "./prometheus.js";
import { type BatchResult, type Results, type Throughput, chartRows, goals, headline, latencyTable } from "./report.js";
import { mean, round1, summarize } from "./stats.js";
import { ObjectWatch, PodTimeline } from "./watch.js";
import { SYNTAX_ERROR, WORKLOADS } from "./workload.js";

const say = (line: string) => console.error(line);
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

async function measureBatches(ctx: BenchContext, controller: ControllerProcess, options: BenchOptions, results: Results): Promise<void> {
  say("Warming up every path with every script once (not counted)");
  for (const path of options.paths) {
    for (const name of options.workloads) {
      const sample = await pathRunner(path, ctx)(WORKLOADS[name]);
      if (sample.error) say(`  warm-up ${path}/${name} failed: ${sample.error}`);
    }
  }
  for (const name of options.workloads) {
    for (const concurrency of options.concurrency) {
      for (const path of options.paths) {
        checkInterrupted();
        const run = pathRunner(path, ctx);
        const viaController = path === "execute" || path === "scriptrun";
        const before = viaController ? await scrapeBoth(controller, ctx.apiUrl) : undefined;
        const samples = await runBatch(options.runs, concurrency, () => {
          checkInterrupted();
          return run(WORKLOADS[name]);
        });
        const ok = samples.filter((s) => s.error === undefined);
        const firstError = samples.find((s) => s.error !== undefined)?.error;
        const result: BatchResult = {
          path, workload: name, concurrency, latency: summarize(ok.map((s) => s.end - s.start)),
          errors: samples.length - ok.length, ...(firstError !== undefined ? { firstError } : {}), segments: [],
        };
        if (before) {
          // The last runs' stages are observed just after their status is written: wait for them.
          const finishedBefore = total(before.controller, "scriptrun_runs_finished_total");
          await eventually("the controller to record the batch", async () =>
            total(await scrape(controller.metricsUrl), "scriptrun_runs_finished_total") - finishedBefore >= samples.length || undefined,
          15_000).catch(() => undefined);
          const stages = stageMeans(before, await scrapeBoth(controller, ctx.apiUrl));
          result.stages = stages;
          result.overhead = summarize(overheads(samples));
          result.overheadVsStagesMs = round1(mean(ok.map((s) => s.end - s.start)) - stages.pod_started.meanMs - stages.execution.meanMs);
        }
        result.segments = segmentsOf(path, samples, result.stages);
        results.batches.push(result);
        say(`  ${path.padEnd(9)} ${name.padEnd(5)} c=${String(concurrency).padEnd(2)} p50 ${result.latency.p50} ms  p95 ${result.latency.p95} ms` +
          `${result.errors ? `  ${result.errors} errors (${result.firstError})` : ""}`);
      }
    }
  }
}

async function measurePreflight(ctx: BenchContext, config: Config, options: BenchOptions, results: Results): Promise<void> {
  if (options.preflightRuns === 0) return;
  say("Preflight: a syntax error through /execute (answered with no run and no pod), and straight to the preflight client");
  const refused = async () => {
    const { status, body } = await postExecute(ctx.apiUrl, SYNTAX_ERROR);
    if (status !== 200 || body.name !== null || body.error?.type !== "syntax_error") {
      throw new Error(`Expected a syntax_error answered at once, got ${status} ${JSON.stringify(body).slice(0, 200)}`);
    }
  };
  const resolved = resolveRequest({ script: SYNTAX_ERROR }, runtimeLimits(ctx.runtime, config.maxScriptBytes));
  if (!resolved.ok) throw new Error(resolved.reasons.join("; "));
  const client = new PreflightClient({ ...config.preflight, runnerPath: RUNNER_PATH });
  try {
    await client.check(resolved.request);
    for (const concurrency of options.concurrency) {
      checkInterrupted();
      const api = await runBatch(options.preflightRuns, concurrency, () => timeIt(refused));
      const direct = await runBatch(options.preflightRuns, concurrency, () => timeIt(() => client.check(resolved.request)));
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

async function measureThroughput(ctx: BenchContext, options: BenchOptions): Promise<Throughput | undefined> {
  if (options.throughputSeconds === 0) return undefined;
  const { throughputSeconds: seconds, throughputConcurrency: clients } = options;
  say(`Throughput: ${clients} clients sending the hello script to /execute back to back for ${seconds} s`);
  const existing = new Set((await apiRuns(ctx.namespace)).map((r) => r.metadata.name));
  const { results, elapsedMs } = await runFor(seconds * 1000, clients, async () => {
    const start = performance.now();
    try {
      const { status, body, at } = await postExecute(ctx.apiUrl, WORKLOADS.hello.script);
      return { status, right: status === 200 && body.success === true && WORKLOADS.hello.check(body.result, "") === undefined, ms: at - start };
    } catch {
      return { status: 0, right: false, ms: performance.now() - start };
    }
  });
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
  return throughput;
}

function watches(namespace: string, pods: PodTimeline) {
  const log = createLogger("warn", "scriptrun-bench");
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  return {
    runs: new ObjectWatch<KubernetesObject>(kc, {
      what: "scriptruns", path: runsPath(namespace),
      list: () => custom.listNamespacedCustomObject({ ...RUNS, namespace }) as Promise<KubernetesListObject<KubernetesObject>>,
    }, log),
    jobs: new ObjectWatch<V1Job>(kc, {
      what: "jobs", path: `/apis/batch/v1/namespaces/${namespace}/jobs`, list: () => batch.listNamespacedJob({ namespace }),
    }, log),
    pods: new ObjectWatch<V1Pod>(kc, {
      what: "pods", path: `/api/v1/namespaces/${namespace}/pods`, list: () => core.listNamespacedPod({ namespace }),
    }, log, (pod, at) => pods.record(pod, at)),
  };
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

  const namespace = await createNamespace("bench");
  const timeline = new PodTimeline();
  const watched = watches(namespace, timeline);
  let controller: ControllerProcess | undefined;
  let api: Awaited<ReturnType<typeof startBenchApi>> | undefined;
  try {
    await Promise.all([watched.runs.start(), watched.jobs.start(), watched.pods.start()]);
    controller = await startBenchController(namespace);
    api = await startBenchApi(namespace);
    const ctx: BenchContext = { kc, namespace, apiUrl: api.url, config, runtime: await defaultRuntime(), runs: watched.runs, jobs: watched.jobs, pods: timeline };
    if (options.paths.includes("direct")) {
      results.pythonStartup = summarize(await runBatch(options.runs, 1, () => timeIt(() => runProcess(HOST_PYTHON, ["-c", "pass"]))));
    }
    await measureBatches(ctx, controller, options, results);
    await measurePreflight(ctx, config, options, results);
    results.throughput = await measureThroughput(ctx, options);
    if (options.overload.length > 0) {
      results.overload = await measureOverload(ctx, options.overload, options.overloadWarmup,
        { api: api.child.pid!, controller: controller.child.pid! }, say);
    }
  } finally {
    await Promise.all([watched.runs.stop(), watched.jobs.stop(), watched.pods.stop()]);
    if (api) await stopController(api.child);
    if (controller) await stopController(controller.child);
    await deleteNamespace(namespace);
  }
  if (options.fixtureRuns > 0) {
    checkInterrupted();
    say(`Memory: the controller with ${options.fixtureRuns} finished ScriptRuns in its cache`);
    results.memory = await controllerMemory(kc, config, options.fixtureRuns, say);
    say(`  RSS ${results.memory.rssMiB} MiB (peak ${results.memory.peakRssMiB}, idle ${results.memory.idleRssMiB}), heap ${results.memory.heapUsedMiB} MiB, ` +
      `${results.memory.bytesPerRun} bytes per run`);
  }

  const figures = headline(results);
  const report = {
    ...figures,
    date: started.toISOString(),
    quick: options.quick,
    options,
    machine: host,
    versions: pinned,
    goals: goals(figures, results),
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
  for (const goal of report.goals) {
    console.log(`${goal.met === null ? "n/a " : goal.met ? "met " : "MISS"}  ${goal.goal}: ${goal.value ?? "-"}`);
  }
  console.log(`\nWrote ${join(options.outDir, "latest.json")} and ${join(options.outDir, "stages.svg")}`);
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error("The benchmark failed:", err);
  process.exit(1);
});

// The ways a script can be run, each timed from the caller's side:
//   A execute    POST /execute on the API, until its answer is read
//   B scriptrun  a ScriptRun created with client-node, until a watch shows it finished
//   warm-execute, warm-scriptrun
//                A and B naming the bench's warm runtime, whose pool has a pod ready for the run
//                (each waits, untimed, for one: see WarmGate), so that the run claims it
//   C job        a plain batch/v1 Job with the same runner image, pod and request (the controller's
//                own buildPod), until the Job is complete and the envelope is read
//                back from the pod's log
//   D direct     the runner harness on this host (python3 runner.py, request on stdin): the floor,
//                the sandbox and Python with no pod
// Every run's answer is checked; a wrong one counts as an error, never as a fast success.
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { randomUUID } from "node:crypto";
import { BatchV1Api, CoreV1Api, type KubeConfig, type KubernetesObject, type V1Job, type V1Pod } from "@kubernetes/client-node";
import { newRunName } from "../api/runNames.js";
import { parseEnvelopeFromLog } from "../core/envelope.js";
import { type RunnerRequest, resolveRequest } from "../core/request.js";
import { type Runtime, runtimeLimits } from "../core/runtime.js";
import { API_VERSION, KIND, type ScriptRun, isFinished } from "../crds/schema.js";
import type { Config } from "../operator/config.js";
import { RUNNER_CONTAINER } from "../operator/names.js";
import { buildConfigMap, buildPod, usesConfigMap } from "../operator/podSpec.js";
import { createRun } from "../test/cluster/controller.js";
import type { PathName } from "./options.js";
import type { WarmGate } from "./warm.js";
import type { ObjectWatch, PodLife, PodTimeline, RunLife, RunTimeline } from "./watch.js";
import type { Workload } from "./workload.js";

/** The Python of the runner image (Debian's), which has numpy; pyenv shims would add their own start-up. */
export const HOST_PYTHON = "/usr/bin/python3";
export const RUNNER_PATH = "images/runner/runner.py";
const RUN_TIMEOUT_MS = 180_000;
/** Label of the bench's Job pods, instead of the controller's, so its informers ignore them. */
const JOB_LABELS = { "app.kubernetes.io/name": "scriptrun-bench-job" };

export interface RunSample {
  /** performance.now() when the run was sent, and when its answer was in hand. */
  start: number;
  end: number;
  /** The run's pod as the bench's watch saw it (not for the direct path). */
  pod?: PodLife;
  /** Job path: when the Job was seen complete. */
  complete?: number;
  /** Why the run did not give the right answer. */
  error?: string;
  /** Paths A and B: the ScriptRun as the bench's watch saw it (its status.start says warm or cold). */
  run?: RunLife;
}

export interface BenchContext {
  kc: KubeConfig;
  namespace: string;
  apiUrl: string;
  /** The operator's configuration and the default runtime: the request and pod the Job and direct paths build. */
  config: Config;
  runtime: Runtime;
  /** ScriptRuns, typed as what client-node's informer hands over (see asRun). */
  runs: ObjectWatch<KubernetesObject>;
  jobs: ObjectWatch<V1Job>;
  pods: PodTimeline;
  runLives: RunTimeline;
  /** The bench's warm runtime and the gate its runs wait at, when it has one; `settleMs`: how long
   * a run waits more once through the gate (BENCH_WARM_WAIT=quiet). */
  warm?: { runtime: string; gate: WarmGate; settleMs: number };
}

export type PathRunner = (workload: Workload) => Promise<RunSample>;

/** The request the controller resolves for `workload` on the default runtime. */
export function requestOf(workload: Workload, ctx: Pick<BenchContext, "runtime" | "config">): RunnerRequest {
  const resolved = resolveRequest({ script: workload.script }, runtimeLimits(ctx.runtime, ctx.config.maxScriptBytes));
  if (!resolved.ok) throw new Error(`The ${workload.name} script is refused: ${resolved.reasons.join("; ")}`);
  return resolved.request;
}

/** Runs `body`; a throw becomes the sample's error. */
async function timed(body: (sample: RunSample) => Promise<void>): Promise<RunSample> {
  const sample: RunSample = { start: performance.now(), end: 0 };
  try {
    await body(sample);
  } catch (err) {
    sample.error = err instanceof Error ? err.message : String(err);
  }
  sample.end ||= performance.now();
  return sample;
}

interface ExecuteAnswer {
  name: string | null;
  success?: boolean;
  result?: unknown;
  stdout?: string;
  error?: { type?: string; message?: string } | null;
}

/** POST /execute with `script` (on `runtime`, when given); the answer's body, and when it was read. */
export async function postExecute(apiUrl: string, script: string, runtime?: string): Promise<{ status: number; body: ExecuteAnswer; at: number }> {
  const response = await fetch(`${apiUrl}/execute`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify(runtime === undefined ? { script } : { script, runtime }),
  });
  const body = await response.json() as ExecuteAnswer;
  return { status: response.status, body, at: performance.now() };
}

const failure = (error: { type?: string; message?: string } | null | undefined) =>
  `the run failed: ${error?.type ?? "?"}: ${(error?.message ?? "").slice(0, 200)}`;

/** `gated: false`: a warm path's runs go at once, pod ready or not (the burst, the refill). */
export function pathRunner(path: PathName, ctx: BenchContext, { gated: gating = true } = {}): PathRunner {
  const core = ctx.kc.makeApiClient(CoreV1Api);
  const batch = ctx.kc.makeApiClient(BatchV1Api);
  const { namespace } = ctx;

  /** The finished run as the bench's watch saw it (untimed: the answer is already in hand). */
  const seen = async (sample: RunSample, name: string) => {
    await ctx.runs.waitFor(name, (run) => isFinished(asRun(run).status?.phase), 10_000).catch(() => undefined);
    sample.run = ctx.runLives.of(name);
  };

  const execute = (runtime?: string): PathRunner => async (workload) => {
    let name: string | null | undefined;
    const sample = await timed(async (s) => {
      const { status, body, at } = await postExecute(ctx.apiUrl, workload.script, runtime);
      s.end = at;
      name = body.name;
      if (body.name) s.pod = ctx.pods.of(body.name);
      if (status !== 200) throw new Error(`HTTP ${status}: ${JSON.stringify(body).slice(0, 200)}`);
      if (!body.success) throw new Error(failure(body.error));
      s.error = workload.check(body.result, body.stdout ?? "");
    });
    if (name) await seen(sample, name);
    return sample;
  };

  const scriptrun = (runtime?: string): PathRunner => async (workload) => {
    const name = newRunName();
    const sample = await timed(async (s) => {
      await createRun(namespace, name, { script: workload.script, ...(runtime !== undefined ? { runtime } : {}) });
      const { obj, at } = await ctx.runs.waitFor(name, (run) => isFinished(asRun(run).status?.phase), RUN_TIMEOUT_MS);
      s.end = at;
      s.pod = ctx.pods.of(name);
      const { status } = asRun(obj);
      if (status?.phase !== "Succeeded") throw new Error(failure(status?.error));
      s.error = workload.check(status.result ?? null, status.stdout ?? "");
    });
    await seen(sample, name);
    return sample;
  };

  /** A warm path's run waits (untimed) at the gate until the pool has a pod ready for it. */
  const gated = (run: PathRunner): PathRunner => async (workload) => {
    const { gate, settleMs } = ctx.warm!;
    try {
      await gate.acquire(RUN_TIMEOUT_MS);
      if (settleMs > 0) await sleep(settleMs);
    } catch (err) {
      const now = performance.now();
      return { start: now, end: now, error: (err as Error).message };
    }
    try {
      return await run(workload);
    } finally {
      gate.release();
    }
  };

  const job: PathRunner = async (workload) => {
    const name = `job-${newRunName().slice("run-".length)}`;
    // The controller's own pod for a run of this script (and ConfigMap, for a request too large to
    // annotate), minus what ties them to a ScriptRun: the same image, command, limits, security
    // context and request file.
    const run: ScriptRun = { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace, uid: randomUUID(), generation: 1 },
      spec: { script: workload.script } as ScriptRun["spec"] };
    const request = requestOf(workload, ctx);
    const pod: V1Pod = buildPod(run, request, ctx.runtime, ctx.config);
    const configMap = usesConfigMap(pod) ? buildConfigMap(run, request) : undefined;
    if (configMap) configMap.metadata = { name: configMap.metadata!.name!, namespace, labels: JOB_LABELS };
    const body: V1Job = {
      apiVersion: "batch/v1", kind: "Job", metadata: { name, namespace, labels: JOB_LABELS },
      spec: { backoffLimit: 0, template: { metadata: { labels: JOB_LABELS, annotations: pod.metadata!.annotations! }, spec: pod.spec! } },
    };
    const sample = await timed(async (s) => {
      if (configMap) await core.createNamespacedConfigMap({ namespace, body: configMap });
      await batch.createNamespacedJob({ namespace, body });
      const { obj, at } = await ctx.jobs.waitFor(name, (j) => jobEnded(j) !== undefined, RUN_TIMEOUT_MS);
      s.complete = at;
      s.pod = ctx.pods.of(name);
      if (jobEnded(obj) !== "Complete") throw new Error("the Job failed");
      const pods = await core.listNamespacedPod({ namespace, labelSelector: `batch.kubernetes.io/job-name=${name}` });
      const podName = pods.items[0]?.metadata?.name;
      if (!podName) throw new Error("the Job's pod is gone");
      const log = await core.readNamespacedPodLog({ namespace, name: podName, container: RUNNER_CONTAINER });
      s.end = performance.now();
      const read = parseEnvelopeFromLog(log);
      if (!("envelope" in read)) throw new Error(read.reason);
      if (!read.envelope.success) throw new Error(failure(read.envelope.error));
      s.error = workload.check(read.envelope.result, read.envelope.stdout ?? "");
    });
    // Not timed: what the Job's user would leave to a TTL.
    await batch.deleteNamespacedJob({ namespace, name, propagationPolicy: "Background" }).catch(() => undefined);
    if (configMap) await core.deleteNamespacedConfigMap({ namespace, name: configMap.metadata!.name! }).catch(() => undefined);
    return sample;
  };

  const direct: PathRunner = (workload) => {
    const request = JSON.stringify(requestOf(workload, ctx));
    return timed(async (sample) => {
      const stdout = await runProcess(HOST_PYTHON, [RUNNER_PATH], request);
      sample.end = performance.now();
      const read = parseEnvelopeFromLog(stdout);
      if (!("envelope" in read)) throw new Error(read.reason);
      if (!read.envelope.success) throw new Error(failure(read.envelope.error));
      sample.error = workload.check(read.envelope.result, read.envelope.stdout ?? "");
    });
  };

  if ((path === "warm-execute" || path === "warm-scriptrun") && !ctx.warm) throw new Error(`The ${path} path needs the bench's warm runtime`);
  const runners: Record<PathName, () => PathRunner> = {
    execute: () => execute(),
    scriptrun: () => scriptrun(),
    job: () => job,
    direct: () => direct,
    "warm-execute": () => (gating ? gated : (r: PathRunner) => r)(execute(ctx.warm!.runtime)),
    "warm-scriptrun": () => (gating ? gated : (r: PathRunner) => r)(scriptrun(ctx.warm!.runtime)),
  };
  return runners[path]();
}

/** What the informer delivers for a ScriptRun (timestamps arrive as strings). */
const asRun = (obj: KubernetesObject) => obj as unknown as ScriptRun;

/** "Complete" or "Failed" once the Job controller has decided, else undefined. */
export function jobEnded(job: V1Job): "Complete" | "Failed" | undefined {
  const ended = job.status?.conditions?.find((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
  return ended?.type as "Complete" | "Failed" | undefined;
}

/** Runs a command with `input` on stdin; its stdout, or a rejection naming its exit and stderr. */
export function runProcess(command: string, args: string[], input = ""): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString("utf8"));
      else reject(new Error(`${command} exited with ${code}: ${Buffer.concat(err).toString("utf8").slice(-300)}`));
    });
    child.stdin.end(input);
  });
}

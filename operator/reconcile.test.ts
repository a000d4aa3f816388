// Reconcile against an in-memory stand-in for the apiserver (unit tests only; the real-cluster
// tests in test/cluster/ exercise the same code through client-node).
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { ApiException, type CoreV1Event, type ObjectCache, type V1ConfigMap, type V1ContainerState, type V1Pod } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { type Envelope, parseTerminationMessage } from "../core/envelope.js";
import { silentLogger } from "../core/log.js";
import { type RunnerRequest, resolveRequest } from "../core/request.js";
import { type Runtime, runtimeLimits } from "../core/runtime.js";
import { CANCEL_ANNOTATION, keyOf, runKey } from "../core/runs.js";
import { isoTime } from "../core/time.js";
import { FINAL_STATUS_MESSAGE, type RunRuntime, type ScriptRun, type ScriptRunSpecInput, isFinished } from "../crds/schema.js";
import type { Config } from "./config.js";
import { EventRecorder } from "./events.js";
import type { Kube, StatusPatch } from "./kube.js";
import { type Metrics, createMetrics } from "./metrics.js";
import { slimFinished } from "./informers.js";
import { RUN_LABEL, ownerRunUid, runLabelValue } from "./names.js";
import { OpenRuns } from "./openRuns.js";
import { MAX_ANNOTATED_REQUEST_BYTES, REQUEST_ANNOTATION, usesConfigMap } from "./podSpec.js";
import { CANCEL_LOG_WAIT_MS, LOG_WAIT_MS, type ReconcileDeps, Reconciler } from "./reconcile.js";
import {
  T0, aParsedRuntime, aRun, aRuntime, applyMergePatch, envelope, harnessError, running, terminated, testConfig, testRuntimes,
} from "./testkit.js";
import type { AttachResult } from "./warmAttach.js";
import { POOL_LABEL, claimPatch, poolPod, poolPodState, startedWarm, templateOf } from "./warmPool.js";


class FakeCluster implements Kube {
  readonly runs = new Map<string, ScriptRun>();
  readonly pods = new Map<string, V1Pod>();
  readonly configMaps = new Map<string, V1ConfigMap>();
  readonly events: CoreV1Event[] = [];
  readonly logs = new Map<string, string>();
  /** What etcd stores at most, as it answers through the apiserver. */
  maxStoredBytes = 1536 * 1024;
  /** Pod creations still to fail with a passing apiserver fault. */
  failPodCreates = 0;
  failStatusWrites = 0;
  failPodDeletes = 0;
  /** Names of the pods deleted, in order. */
  readonly deletedPods: string[] = [];
  private version = 100;

  add(run: ScriptRun): ScriptRun {
    this.runs.set(runKey(run.metadata.namespace!, run.metadata.name!), run);
    return run;
  }
  run(name: string, namespace = "default"): ScriptRun | undefined {
    return this.runs.get(runKey(namespace, name));
  }
  pod(name: string, namespace = "default"): V1Pod | undefined {
    return this.pods.get(runKey(namespace, `${name}-runner`));
  }
  /** What the kubelet would report for a run's pod. */
  setPod(name: string, phase: string, state?: V1ContainerState): void {
    const pod = this.pod(name)!;
    pod.status = { phase, ...(state ? { containerStatuses: [{ name: "runner", image: "i", imageID: "", ready: false, restartCount: 0, state }] } : {}) };
  }
  reasons(name: string): string[] {
    return this.events.filter((e) => e.involvedObject.name === name).map((e) => e.reason ?? "");
  }

  async createConfigMap(cm: V1ConfigMap): Promise<"created" | "exists"> {
    const key = runKey(cm.metadata!.namespace!, cm.metadata!.name!);
    if (this.configMaps.has(key)) return "exists";
    this.configMaps.set(key, structuredClone(cm));
    return "created";
  }
  async createPod(pod: V1Pod): Promise<V1Pod | "exists"> {
    if (this.failPodCreates > 0) {
      this.failPodCreates--;
      throw new ApiException(500, "etcdserver: leader changed", { message: "etcdserver: leader changed" }, {});
    }
    const key = runKey(pod.metadata!.namespace!, pod.metadata!.name!);
    if (this.pods.has(key)) return "exists";
    this.pods.set(key, { ...structuredClone(pod), status: { phase: "Pending" } });
    this.pods.get(key)!.metadata!.creationTimestamp = new Date(T0);
    return this.pods.get(key)!;
  }
  async patchPod(): Promise<V1Pod | "conflict" | "gone"> {
    throw new Error("No warm pod in these tests");
  }
  async readConfigMap(namespace: string, name: string) { return this.configMaps.get(runKey(namespace, name)); }
  async readPod(namespace: string, name: string) { return this.pods.get(runKey(namespace, name)); }
  async listRunPods(namespace: string, runName: string) {
    return [...this.pods.values()].filter((p) => p.metadata?.namespace === namespace && p.metadata.labels?.[RUN_LABEL] === runLabelValue(runName));
  }
  async readRun(namespace: string, name: string) { return this.runs.get(runKey(namespace, name)); }
  /** A run's JSON as the apiserver would write it, where JSON.stringify of the run would not. */
  readonly runTexts = new Map<string, string>();
  async readRunText(namespace: string, name: string) {
    const run = this.runs.get(runKey(namespace, name));
    return run && (this.runTexts.get(runKey(namespace, name)) ?? JSON.stringify(run));
  }
  async readLog(namespace: string, pod: string) { return this.logs.get(runKey(namespace, pod)) ?? ""; }
  async patchRunStatus(namespace: string, name: string, patch: StatusPatch): Promise<boolean> {
    if (this.failStatusWrites > 0) {
      this.failStatusWrites--;
      throw new ApiException(500, "etcdserver: leader changed", { message: "etcdserver: leader changed" }, {});
    }
    const run = this.runs.get(runKey(namespace, name));
    if (!run) return false;
    const status = patch.type === "replace" ? structuredClone(patch.status) : applyMergePatch(run.status ?? {}, patch.status);
    // The CRD's rule: a finished run's status is final.
    if (isFinished(run.status?.phase) && !isDeepStrictEqual(status, run.status)) {
      throw new ApiException(422, "HTTP 422", { message: `ScriptRun.scriptrun.dev "${name}" is invalid: status: Invalid value: "object": ${FINAL_STATUS_MESSAGE}` }, {});
    }
    if (JSON.stringify({ ...run, status }).length > this.maxStoredBytes) {
      throw new ApiException(500, "etcdserver: request is too large", { message: "etcdserver: request is too large" }, {});
    }
    this.runs.set(runKey(namespace, name), { ...run, status: status as ScriptRun["status"], metadata: { ...run.metadata, resourceVersion: String(++this.version) } });
    return true;
  }
  async deletePod(namespace: string, name: string) {
    if (this.failPodDeletes > 0) {
      this.failPodDeletes--;
      throw new ApiException(500, "etcdserver: leader changed", { message: "etcdserver: leader changed" }, {});
    }
    this.deletedPods.push(name);
    this.pods.delete(runKey(namespace, name));
  }
  async deleteConfigMap(namespace: string, name: string) { this.configMaps.delete(runKey(namespace, name)); }
  async deleteRun(namespace: string, name: string, uid: string) {
    if (this.run(name, namespace)?.metadata.uid === uid) this.runs.delete(runKey(namespace, name));
  }
  async createEvent(event: CoreV1Event) {
    if (!this.events.some((e) => e.metadata.name === event.metadata.name)) this.events.push(event);
  }
  async patchRuntimeStatus(): Promise<boolean> { throw new Error("Runs never write a runtime's status"); }
}

/** A cache that sees the fake cluster as it is, or as it was when `freeze` was called. */
class Cache<T> implements ObjectCache<T> {
  private frozen: Map<string, T> | undefined;
  constructor(private readonly live: Map<string, T>) {}
  freeze(): void {
    this.frozen = new Map([...this.live].map(([k, v]) => [k, structuredClone(v)]));
  }
  /** Sees the fake cluster as it is again. */
  thaw(): void {
    this.frozen = undefined;
  }
  /** What an earlier freeze kept, again: a relist whose list is older than what the cache showed. */
  setBack(to: Map<string, T>): void {
    this.frozen = to;
  }
  get snapshot(): Map<string, T> {
    return new Map([...this.live].map(([k, v]) => [k, structuredClone(v)]));
  }
  get(name: string, namespace?: string): T | undefined {
    return (this.frozen ?? this.live).get(runKey(namespace ?? "", name));
  }
  list(): readonly T[] {
    return [...(this.frozen ?? this.live).values()];
  }
}

const syntaxError = { type: "syntax_error" as const, message: "invalid syntax", line: 1, suggestions: [], availableFunctions: [] };

type Warm = ReconcileDeps["warm"];
/** No warm pool: every claim finds no pod. */
const noWarmPool = (): Warm => ({ claim: async () => undefined, send: () => {}, answer: () => undefined, forget: () => {}, claimedPod: () => undefined,
  attachedPod: () => undefined });

function setup(env: Record<string, string> = {}, runtimes = testRuntimes(),
  makeWarm: (cluster: FakeCluster, config: Config, now: () => number) => Warm = noWarmPool) {
  const cluster = new FakeCluster();
  const config: Config = testConfig({ SCRIPTRUN_MAX_CONCURRENT_RUNS: "2", ...env });
  const clock = { now: T0 };
  const enqueued: string[] = [];
  const runs = new Cache(cluster.runs);
  const pods = new Cache(cluster.pods);
  const preflight = { checks: 0, check: async (request: { script: string }) => {
    preflight.checks++;
    return request.script.includes("def main(:") ? { ok: false as const, error: syntaxError } : { ok: true as const };
  } };
  const metrics = createMetrics(new Registry());
  const images: Array<{ runtime: RunRuntime; ok: boolean; message?: string }> = [];
  const warm = makeWarm(cluster, config, () => clock.now);
  // The open runs as the informers would have kept them, from the caches as they are at each look.
  const known = () => {
    const open = new OpenRuns(runs, pods);
    for (const run of runs.list()) open.changed(run);
    return open;
  };
  const open = { list: () => known().list(), anyQueued: () => known().anyQueued(), atMost: (ns: string) => known().atMost(ns) };
  const start = () => new Reconciler({
    kube: cluster, runs, pods, open, preflight, config, metrics, log: silentLogger(), runtimes,
    images: { observedImage: (runtime, ok, message) => images.push({ runtime, ok, message }) }, warm,
    events: new EventRecorder(cluster, silentLogger(), "test", "scriptrun-system"), enqueue: (key) => enqueued.push(key), now: () => clock.now,
  });
  let reconciler = start();
  const reconcile = (name: string, namespace = "default", heardAt?: number) => reconciler.reconcile(runKey(namespace, name), heardAt);
  /** A new controller process: what the one before kept in memory is gone. */
  const restart = () => {
    reconciler = start();
  };
  const create = (name: string, spec: Partial<ScriptRunSpecInput> = {}, createdMs = T0) => cluster.add(aRun(name, spec, { createdMs }));
  return { cluster, config, clock, enqueued, runs, pods, preflight, metrics, reconcile, restart, create, images, runtimes };
}

/** The runtime's warm pool as WarmRuns serves the reconciler, over the fake cluster: a claim takes a
 * ready pool pod with the claim's own patch (applied as the apiserver would), and the runner answers
 * on the attach stream whatever the test says. */
class FakeWarm implements Warm {
  /** Keys of the runs that claimed a pod. */
  readonly claims: string[] = [];
  readonly sent: Array<{ key: string; pod: string; request: RunnerRequest }> = [];
  /** Each time the reconciler asked a claimed pod's runner for its answer (a resumed attach when nothing was sent). */
  readonly asked: Array<{ key: string; pod: string; timeoutSeconds: number }> = [];
  readonly forgotten: string[] = [];
  /** What the runner has answered on the attach stream; undefined: nothing yet. */
  answers: AttachResult | undefined;
  /** Claims still to fail as the apiserver's passing faults do (WarmRuns.claim passes them on). */
  failClaims = 0;
  /** Claims still to land whose answer is then lost (a timeout after the write). */
  landThenFailClaims = 0;
  private readonly claimed = new Map<string, V1Pod>();

  constructor(private readonly cluster: FakeCluster, private readonly config: Config, private readonly now: () => number) {}

  async claim(run: ScriptRun, runtime: Runtime, request: RunnerRequest): Promise<V1Pod | undefined> {
    if (this.failClaims > 0) {
      this.failClaims--;
      throw new ApiException(504, "Timeout: request did not complete within the allowed duration", {}, {});
    }
    const template = templateOf(poolPod(runtime, "", "", this.config)) ?? "";
    const ready = [...this.cluster.pods.values()].find((p) => p.metadata?.namespace === run.metadata.namespace
      && p.metadata?.labels?.[POOL_LABEL] === runtime.name && poolPodState(p, template).ready);
    if (!ready) return undefined;
    const pod = applyMergePatch(ready, claimPatch(ready, run, request, this.config.deadlineGraceSeconds, this.now())) as V1Pod;
    pod.metadata!.resourceVersion = "11";
    this.cluster.pods.set(runKey(ready.metadata!.namespace!, ready.metadata!.name!), pod);
    this.claims.push(runKey(run.metadata.namespace!, run.metadata.name!));
    if (this.landThenFailClaims > 0) {
      this.landThenFailClaims--;
      throw new ApiException(504, "Timeout: request did not complete within the allowed duration", {}, {});
    }
    return structuredClone(pod);
  }
  send(key: string, pod: V1Pod, request: RunnerRequest): void {
    this.sent.push({ key, pod: pod.metadata!.name!, request });
    this.claimed.set(key, pod);
  }
  answer(key: string, pod: V1Pod, timeoutSeconds: number): AttachResult | undefined {
    this.asked.push({ key, pod: pod.metadata!.name!, timeoutSeconds });
    return this.answers;
  }
  forget(key: string): void {
    this.forgotten.push(key);
    this.claimed.delete(key);
  }
  attachedPod(key: string): string | undefined {
    return [...this.sent].reverse().find((s) => s.key === key)?.pod;
  }
  claimedPod(run: ScriptRun): V1Pod | undefined {
    return this.claimed.get(keyOf(run));
  }
}

const POOL_POD = "python-warm-x7k2p";

/** A ready pool pod of the default runtime in `default`, started at `startedMs`: pool pods wait for their runs. */
function addPoolPod(cluster: FakeCluster, config: Config, startedMs = T0 - 600_000): V1Pod {
  const pod = poolPod(aParsedRuntime(), "default", "uid-runtime-python", config);
  pod.metadata = { ...pod.metadata, name: POOL_POD, resourceVersion: "10", creationTimestamp: new Date(startedMs) };
  pod.status = { phase: "Running", startTime: new Date(startedMs),
    containerStatuses: [{ name: "runner", image: "i", imageID: "", ready: true, restartCount: 0, state: running(startedMs + 1000) }] };
  cluster.pods.set(runKey("default", POOL_POD), pod);
  return pod;
}

/** The pool pod as `run` claimed it at `claimedMs` (before a restart, say). */
function addClaimedPod(cluster: FakeCluster, config: Config, run: ScriptRun, startedMs: number, claimedMs: number): V1Pod {
  const pool = addPoolPod(cluster, config, startedMs);
  const resolution = resolveRequest(run.spec, runtimeLimits(aParsedRuntime(), config.maxScriptBytes));
  if (!resolution.ok) throw new Error(resolution.reasons.join("; "));
  const pod = applyMergePatch(pool, claimPatch(pool, run, resolution.request, config.deadlineGraceSeconds, claimedMs)) as V1Pod;
  cluster.pods.set(runKey("default", POOL_POD), pod);
  return pod;
}

/** What the kubelet would report for the warm pod. */
function setWarmPod(cluster: FakeCluster, phase: string, state: V1ContainerState): void {
  const pod = cluster.pods.get(runKey("default", POOL_POD))!;
  pod.status = { ...pod.status, phase, containerStatuses: [{ name: "runner", image: "i", imageID: "", ready: false, restartCount: 0, state }] };
}

function anEnvelope(fields: Record<string, unknown> = {}): Envelope {
  const said = parseTerminationMessage(JSON.stringify(envelope(fields)));
  if (said.kind !== "envelope") throw new Error("not an envelope");
  return said.envelope;
}

/** setup() with a warm pool the test fills (addPoolPod) and whose runners answer as it says (warm.answers). */
function warmSetup(env: Record<string, string> = {}) {
  let warm: FakeWarm | undefined;
  const s = setup(env, testRuntimes(), (cluster, config, now) => (warm = new FakeWarm(cluster, config, now)));
  return { ...s, warm: warm!, addPoolPod: (startedMs?: number) => addPoolPod(s.cluster, s.config, startedMs) };
}

/** Count and sum (seconds) of each stage the reconciler observed. */
async function stages(metrics: Metrics): Promise<Record<string, { count: number; sum: number }>> {
  const out: Record<string, { count: number; sum: number }> = {};
  for (const { labels, metricName, value } of (await metrics.stageSeconds.get()).values) {
    const stage = (out[String(labels.stage)] ??= { count: 0, sum: 0 });
    if (metricName?.endsWith("_count")) stage.count = value;
    if (metricName?.endsWith("_sum")) stage.sum = value;
  }
  return out;
}

/** The request a run's pod carries: in its annotation, or in its ConfigMap when too large for one. */
function requestOf(cluster: FakeCluster, name: string): RunnerRequest {
  const pod = cluster.pod(name)!;
  const json = usesConfigMap(pod)
    ? cluster.configMaps.get(`default/${name}-request`)?.data?.["request.json"]
    : pod.metadata?.annotations?.[REQUEST_ANNOTATION];
  return JSON.parse(json!) as RunnerRequest;
}

describe("reconciling a ScriptRun", () => {
  describe("a new run", () => {
    it("gets its pod, which carries its request, and is Pending with the pod's name", async () => {
      const { cluster, create, reconcile } = setup();
      create("a", { args: [1] });
      const result = await reconcile("a");
      assert.equal(cluster.pod("a")?.metadata?.name, "a-runner");
      assert.deepEqual(requestOf(cluster, "a").args, [1]);
      assert.equal(cluster.configMaps.size, 0, "no ConfigMap for a request the pod's annotation holds");
      assert.equal(cluster.run("a")?.status?.phase, "Pending");
      assert.equal(cluster.run("a")?.status?.podName, "a-runner");
      assert.deepEqual(cluster.reasons("a"), ["Created"]);
      assert.equal(result.requeueAfterMs, 120_000);
    });

    it("gets a ConfigMap for a request too large to annotate, made before its pod and deleted with it", async () => {
      const { cluster, create, reconcile } = setup();
      const script = `def main():\n    return ${JSON.stringify("x".repeat(MAX_ANNOTATED_REQUEST_BYTES))}\n`;
      create("a", { script });
      await reconcile("a");
      assert.equal(requestOf(cluster, "a").script, script);
      assert.ok(usesConfigMap(cluster.pod("a")!));
      cluster.setPod("a", "Succeeded", terminated(JSON.stringify(envelope())));
      await reconcile("a");
      assert.equal(cluster.pods.size + cluster.configMaps.size, 0);
    });

    it("gets one pod however often it is reconciled", async () => {
      const { cluster, create, reconcile } = setup();
      create("a");
      for (let i = 0; i < 3; i++) await reconcile("a");
      assert.equal(cluster.pods.size, 1);
      assert.deepEqual(cluster.reasons("a"), ["Created"]);
    });

    it("is refused with invalid_input and no pod when it asks for more than a cap", async () => {
      const { cluster, create, reconcile } = setup();
      create("big", { timeoutSeconds: 3000 });
      await reconcile("big");
      const status = cluster.run("big")?.status;
      assert.equal(status?.phase, "Failed");
      assert.equal(status?.error?.type, "invalid_input");
      assert.equal(status?.error?.message, "timeoutSeconds 3000 exceeds the maximum of 300 of runtime \"python\"");
      assert.equal(cluster.pods.size + cluster.configMaps.size, 0);
      assert.deepEqual(cluster.reasons("big"), ["InvalidInput"]);
    });

    it("is refused with invalid_input and no pod when its runtime does not exist", async () => {
      const { cluster, create, reconcile } = setup();
      create("lost", { runtime: "python-gpu" });
      await reconcile("lost");
      const status = cluster.run("lost")?.status;
      assert.equal(status?.error?.type, "invalid_input");
      assert.match(status!.error!.message, /^runtime "python-gpu" does not exist/);
      assert.equal(status?.runtime, undefined);
      assert.equal(cluster.pods.size + cluster.configMaps.size, 0);
    });

    it("runs on the runtime it names, recording the runtime and image in its status", async () => {
      const ml = aRuntime("ml", { image: "localhost/scriptrun/runner-ml:1", defaults: { memory: "512Mi" } }, { isDefault: false });
      const { cluster, create, reconcile } = setup({}, testRuntimes(aRuntime(), ml));
      create("fit", { runtime: "ml" });
      await reconcile("fit");
      assert.equal(cluster.pod("fit")?.spec?.containers[0]?.image, "localhost/scriptrun/runner-ml:1");
      assert.equal(requestOf(cluster, "fit").resources.memory, "512Mi");
      assert.deepEqual(cluster.run("fit")?.status?.runtime, { name: "ml", image: "localhost/scriptrun/runner-ml:1" });
    });

    it("tells a script that missed a module which runtime has it, and the runtime's keeper that its image started", async () => {
      const ml = aRuntime("ml", { modules: ["sklearn"] }, { isDefault: false });
      const { cluster, create, reconcile, images } = setup({}, testRuntimes(aRuntime(), ml));
      create("a");
      await reconcile("a");
      const missing = harnessError("runtime_error", "ModuleNotFoundError: No module named 'sklearn'");
      cluster.setPod("a", "Failed", terminated(JSON.stringify(envelope({ success: false, result: null, error: missing, exitCode: 1 }))));
      await reconcile("a");
      const error = cluster.run("a")?.status?.error;
      assert.equal(error?.type, "runtime_error");
      assert.deepEqual(error?.suggestions, ["Module 'sklearn' is in runtime \"ml\": set runtime: ml on the run"]);
      assert.deepEqual(images, [{ runtime: { name: "python", image: "localhost/scriptrun/runner:test" }, ok: true, message: undefined }]);
    });

    it("fails at preflight with the harness's error type and no pod", async () => {
      const { cluster, create, reconcile } = setup();
      create("syn", { script: "def main(:\n  pass\n" });
      await reconcile("syn");
      const status = cluster.run("syn")?.status;
      assert.equal(status?.error?.type, "syntax_error");
      assert.equal(status?.error?.line, 1);
      assert.equal(status?.conditions?.find((c) => c.type === "Accepted")?.status, "False");
      assert.equal(cluster.pods.size, 0);
    });

    it("is not checked again once accepted", async () => {
      const { cluster, create, reconcile, preflight } = setup({ SCRIPTRUN_MAX_CONCURRENT_RUNS: "1" });
      create("first");
      create("second", {}, T0 + 1000);
      await reconcile("first");
      await reconcile("second");
      await reconcile("second");
      assert.equal(cluster.run("second")?.status?.phase, "Queued");
      assert.equal(preflight.checks, 2);
    });

    it("waits while an earlier run of the same name still owns the pod name", async () => {
      const { cluster, create, reconcile } = setup();
      const old = create("a");
      await reconcile("a");
      cluster.runs.delete("default/a");
      create("a");
      assert.notEqual(cluster.run("a")?.metadata.uid, old.metadata.uid);
      const result = await reconcile("a");
      assert.equal(result.requeueAfterMs, 2000);
      assert.equal(cluster.pod("a")?.metadata?.ownerReferences?.[0]?.uid, old.metadata.uid);
      // Shown while it waits, rather than no status at all.
      const waiting = cluster.run("a")?.status;
      assert.deepEqual([waiting?.phase, waiting?.summary, waiting?.podName], ["Pending", "Waiting for Pod a-runner to be deleted", undefined]);
      assert.deepEqual(waiting?.conditions?.map((c) => [c.type, c.status, c.reason, c.message]), [
        ["PodCreated", "False", "EarlierRunTerminating", "Waiting for Pod a-runner, of an earlier run of this name, to be deleted"],
        ["Finished", "False", "EarlierRunTerminating", "Not started yet"]]);
      cluster.pods.delete("default/a-runner");
      cluster.configMaps.delete("default/a-request");
      await reconcile("a");
      assert.equal(cluster.pod("a")?.metadata?.ownerReferences?.[0]?.uid, cluster.run("a")?.metadata.uid);
      const started = cluster.run("a")?.status;
      assert.deepEqual([started?.phase, started?.podName, started?.summary], ["Pending", "a-runner", undefined]);
      assert.deepEqual(started?.conditions?.map((c) => [c.type, c.status]), [["Accepted", "True"], ["PodCreated", "True"], ["Finished", "False"]]);
    });
  });

  describe("a run with an integer JSON readers change", () => {
    it("is refused as invalid_input, naming the integer as kubectl sent it, with no pod", async () => {
      const { cluster, create, reconcile, preflight } = setup();
      // 2^53 + 1, as the apiserver writes an int64 back.
      create("a", { args: [9007199254740993] });
      cluster.runTexts.set("default/a", '{"metadata":{"name":"a"},"spec":{"script":"x","args":[9007199254740993]}}');
      await reconcile("a");
      const status = cluster.run("a")?.status;
      assert.equal(status?.error?.type, "invalid_input");
      assert.match(status?.error?.message ?? "", /^spec: the integer 9007199254740993 would become 9007199254740992: /);
      assert.equal(cluster.pod("a"), undefined);
      assert.equal(preflight.checks, 0);
    });

    it("runs a whole number written with an exponent or held exactly, and asks the apiserver nothing when every number is safe", async () => {
      const { cluster, create, reconcile } = setup();
      // 1e20 as the apiserver writes it back, the API's 1e20 among them: a double holds it exactly.
      create("a", { args: [1e300, 1e20, 9007199254740994] });
      cluster.runTexts.set("default/a", '{"metadata":{"name":"a"},"spec":{"script":"x","args":[1e+300,100000000000000000000,9007199254740994]}}');
      create("b", { args: [9007199254740991, 1.5], kwargs: { n: -9007199254740991 } });
      // Were it asked, this text would refuse it.
      cluster.runTexts.set("default/b", '{"spec":{"args":[99999999999999999999]}}');
      await reconcile("a");
      await reconcile("b");
      assert.equal(cluster.run("a")?.status?.phase, "Pending");
      assert.equal(cluster.run("b")?.status?.phase, "Pending");
    });
  });

  describe("a run whose pod's name another object holds", () => {
    it("says that a pod no run owns holds the name, and starts once it is gone", async () => {
      const { cluster, create, reconcile } = setup();
      create("a");
      cluster.pods.set("default/a-runner", { metadata: { name: "a-runner", namespace: "default" } });
      assert.equal((await reconcile("a")).requeueAfterMs, 2000);
      const status = cluster.run("a")?.status;
      assert.deepEqual([status?.phase, status?.summary], ["Pending", "Pod a-runner holds this run's name"]);
      assert.deepEqual(cluster.run("a")?.status?.conditions?.find((c) => c.type === "PodCreated")?.message,
        "Pod a-runner, which no run owns, holds the name this run's Pod needs; the run starts once it is deleted");
      cluster.pods.delete("default/a-runner");
      await reconcile("a");
      assert.equal(ownerRunUid(cluster.pod("a")!), cluster.run("a")?.metadata.uid);
    });

    it("names the earlier run's ConfigMap when that, not its pod, is still there", async () => {
      const { cluster, create, reconcile } = setup();
      const old = create("a", { script: `# ${"x".repeat(MAX_ANNOTATED_REQUEST_BYTES)}\ndef main():\n    return 1\n` });
      await reconcile("a");
      assert.ok(cluster.configMaps.has("default/a-request"));
      cluster.runs.delete("default/a");
      cluster.pods.delete("default/a-runner");
      create("a", { script: old.spec.script });
      await reconcile("a");
      assert.equal(cluster.run("a")?.status?.summary, "Waiting for ConfigMap a-request to be deleted");
      assert.equal(cluster.pod("a"), undefined);
    });
  });

  describe("the concurrency caps", () => {
    it("queue runs beyond the cap in creation order and start the next when one finishes", async () => {
      const { cluster, create, reconcile, enqueued } = setup();
      for (const [i, name] of ["d", "c", "b", "a"].entries()) create(name, {}, T0 + (3 - i) * 1000);
      for (const name of ["d", "c", "b", "a"]) await reconcile(name);
      const phases = () => Object.fromEntries(["a", "b", "c", "d"].map((n) => [n, `${cluster.run(n)?.status?.phase}${cluster.run(n)?.status?.queuePosition ?? ""}`]));
      assert.deepEqual(phases(), { a: "Pending", b: "Pending", c: "Queued1", d: "Queued2" });
      assert.deepEqual([...cluster.pods.keys()].sort(), ["default/a-runner", "default/b-runner"]);

      cluster.setPod("a", "Succeeded", terminated(JSON.stringify(envelope())));
      await reconcile("a");
      assert.deepEqual(enqueued.filter((k) => k === "default/c" || k === "default/d"), ["default/c"]);
      await reconcile("c");
      await reconcile("d");
      assert.deepEqual(phases(), { a: "Succeeded", b: "Pending", c: "Pending", d: "Queued1" });
    });

    it("count the position each run was given when it began to wait, once per run", async () => {
      const { create, reconcile, metrics } = setup();
      for (const [i, name] of ["a", "b", "c", "d"].entries()) create(name, {}, T0 + i * 1000);
      for (const name of ["a", "b", "c", "d", "c", "d"]) await reconcile(name);
      const histogram = (await metrics.queuePosition.get()).values;
      const value = (suffix: string) => histogram.find((v) => v.metricName === `scriptrun_queue_position${suffix}`)?.value;
      assert.deepEqual([value("_count"), value("_sum")], [2, 3], "positions 1 and 2, each counted when it was first written");
    });

    it("are never exceeded by reconciles running at once", async () => {
      // The race the reservation closes: b is admitted and its pod is being created, unseen by the
      // pods cache and not yet in b's status, when an older run a is reconciled. Only b's reserved
      // slot tells a to wait: by creation order alone a, not b, would hold the one slot.
      const { cluster, pods, create, reconcile } = setup({ SCRIPTRUN_MAX_CONCURRENT_RUNS: "1" });
      pods.freeze();
      create("b", {}, T0 + 1000);
      const createPod = cluster.createPod.bind(cluster);
      let during: Promise<unknown> | undefined;
      cluster.createPod = async (pod) => {
        if (pod.metadata?.name === "b-runner") {
          create("a", {}, T0);
          during = reconcile("a");
          await during;
        }
        return createPod(pod);
      };
      await reconcile("b");
      assert.ok(during, "a was reconciled while b's pod was being created");
      assert.deepEqual([...cluster.pods.keys()], ["default/b-runner"]);
      assert.equal(cluster.run("a")?.status?.phase, "Queued");
    });

    it("hold per namespace too", async () => {
      const { cluster, reconcile } = setup({ SCRIPTRUN_MAX_CONCURRENT_RUNS: "10", SCRIPTRUN_MAX_CONCURRENT_RUNS_PER_NAMESPACE: "1" });
      cluster.add(aRun("a1", {}, { namespace: "a" }));
      cluster.add(aRun("a2", {}, { namespace: "a", createdMs: T0 + 1 }));
      cluster.add(aRun("b1", {}, { namespace: "b" }));
      for (const [name, ns] of [["a1", "a"], ["a2", "a"], ["b1", "b"]] as const) await reconcile(name, ns);
      assert.deepEqual([...cluster.pods.keys()].sort(), ["a/a1-runner", "b/b1-runner"]);
      assert.equal(cluster.run("a2", "a")?.status?.phase, "Queued");
    });

    it("give the slot of a deleted run to the next one", async () => {
      const { cluster, create, reconcile, enqueued } = setup({ SCRIPTRUN_MAX_CONCURRENT_RUNS: "1" });
      create("a");
      create("b", {}, T0 + 1000);
      await reconcile("a");
      await reconcile("b");
      cluster.runs.delete("default/a");
      cluster.pods.delete("default/a-runner");
      await reconcile("a");
      assert.ok(enqueued.includes("default/b"));
      await reconcile("b");
      assert.equal(cluster.run("b")?.status?.phase, "Pending");
    });
  });

  describe("a run whose pod ran", () => {
    async function started(env: Record<string, string> = {}) {
      const s = setup(env);
      s.create("a");
      await s.reconcile("a");
      s.cluster.setPod("a", "Running", running());
      await s.reconcile("a");
      return s;
    }

    it("is Running while its container runs", async () => {
      const { cluster } = await started();
      assert.equal(cluster.run("a")?.status?.phase, "Running");
      assert.equal(cluster.run("a")?.status?.startedAt, "2025-06-01T12:00:01Z");
    });

    it("gets the envelope's outcome, then loses its pod and ConfigMap", async () => {
      const { cluster, reconcile } = await started();
      cluster.setPod("a", "Succeeded", terminated(JSON.stringify(envelope({ result: { sum: 6 }, stdout: "hi\n" }))));
      await reconcile("a");
      const status = cluster.run("a")?.status;
      assert.equal(status?.phase, "Succeeded");
      assert.deepEqual(status?.result, { sum: 6 });
      assert.equal(status?.stdout, "hi\n");
      assert.equal(cluster.pods.size + cluster.configMaps.size, 0);
      assert.deepEqual(cluster.reasons("a"), ["Created", "Succeeded"]);
    });

    it("tells its start's event beside its Pending status, and its outcome's beside its pod's removal", async () => {
      const { cluster, create, reconcile } = setup();
      // Each event is answered a turn later; a call made meanwhile did not wait for it.
      let eventsInFlight = 0;
      const alongside: string[] = [];
      const createEvent = cluster.createEvent.bind(cluster);
      cluster.createEvent = async (event) => {
        eventsInFlight++;
        await new Promise((resolve) => setImmediate(resolve));
        eventsInFlight--;
        await createEvent(event);
      };
      const patchRunStatus = cluster.patchRunStatus.bind(cluster);
      cluster.patchRunStatus = (namespace, name, patch) => {
        if (eventsInFlight > 0) alongside.push(`status ${patch.status.phase}`);
        return patchRunStatus(namespace, name, patch);
      };
      const deletePod = cluster.deletePod.bind(cluster);
      cluster.deletePod = (namespace, name) => {
        if (eventsInFlight > 0) alongside.push(`delete ${name}`);
        return deletePod(namespace, name);
      };
      create("a");
      await reconcile("a");
      cluster.setPod("a", "Succeeded", terminated(JSON.stringify(envelope())));
      await reconcile("a");
      assert.deepEqual(alongside, ["status Pending", "delete a-runner"]);
      assert.deepEqual(cluster.reasons("a"), ["Created", "Succeeded"]);
      assert.equal(cluster.run("a")?.status?.phase, "Succeeded");
    });

    it("leaves a pod whose runner ended to the kubelet until it calls the pod Succeeded, then deletes it", async () => {
      const { cluster, reconcile, clock } = await started();
      clock.now = T0 + 3500;
      cluster.setPod("a", "Running", terminated(JSON.stringify(envelope()), { finishedMs: T0 + 3000 }));
      const result = await reconcile("a");
      assert.equal(cluster.run("a")?.status?.phase, "Succeeded");
      assert.deepEqual(cluster.deletedPods, [], "a pod not yet ended would go through a graceful termination");
      assert.equal(result.requeueAfterMs, 9500, "looked at again in case no other status comes");
      cluster.setPod("a", "Succeeded", terminated(JSON.stringify(envelope()), { finishedMs: T0 + 3000 }));
      await reconcile("a");
      assert.deepEqual(cluster.deletedPods, ["a-runner"]);
    });

    it("deletes a pod whose runner ended after all when the kubelet does not call it ended in time", async () => {
      const { cluster, reconcile, clock } = await started();
      cluster.setPod("a", "Running", terminated(JSON.stringify(envelope()), { finishedMs: T0 + 3000 }));
      clock.now = T0 + 4000;
      await reconcile("a");
      assert.deepEqual(cluster.deletedPods, []);
      clock.now = T0 + 13_000;
      await reconcile("a");
      assert.deepEqual(cluster.deletedPods, ["a-runner"]);
    });

    it("is finished off from what the controller's cache keeps of it: its pod removed, its TTL kept", async () => {
      const { cluster, create, reconcile, clock } = setup();
      create("a", { ttlSecondsAfterFinished: 60 });
      await reconcile("a");
      cluster.setPod("a", "Running", running());
      await reconcile("a");
      assert.equal(slimFinished(cluster.run("a")!), cluster.run("a"));
      assert.equal(cluster.run("a")?.spec.script, "def main():\n    return 1\n", "an unfinished run is kept whole");
      clock.now = T0 + 3500;
      cluster.setPod("a", "Running", terminated(JSON.stringify(envelope()), { finishedMs: T0 + 3000 }));
      await reconcile("a");
      assert.deepEqual(cluster.deletedPods, []);
      const kept = slimFinished(structuredClone(cluster.run("a")!)) as ScriptRun;
      assert.deepEqual(kept.status, { phase: "Succeeded", podName: "a-runner", start: "cold", finishedAt: "2025-06-01T12:00:03Z" });
      assert.deepEqual(kept.spec, { ttlSecondsAfterFinished: 60 });
      cluster.runs.set(runKey("default", "a"), kept);
      cluster.setPod("a", "Succeeded", terminated(JSON.stringify(envelope()), { finishedMs: T0 + 3000 }));
      const result = await reconcile("a");
      assert.deepEqual(cluster.deletedPods, ["a-runner"]);
      assert.equal(result.requeueAfterMs, 59_500);
    });

    it("keeps its pod when the operator keeps pods for debugging, even before the kubelet calls it Succeeded", async () => {
      const { cluster, reconcile } = await started({ SCRIPTRUN_KEEP_PODS: "true" });
      cluster.setPod("a", "Running", terminated(JSON.stringify(envelope())));
      await reconcile("a");
      assert.equal(cluster.run("a")?.status?.phase, "Succeeded");
      assert.equal(cluster.pods.size, 1);
    });

    it("keeps its pod and ConfigMap when the operator keeps pods for debugging", async () => {
      const { cluster, reconcile } = await started({ SCRIPTRUN_KEEP_PODS: "true" });
      cluster.setPod("a", "Succeeded", terminated(JSON.stringify(envelope())));
      await reconcile("a");
      await reconcile("a");
      assert.equal(cluster.run("a")?.status?.phase, "Succeeded");
      assert.equal(cluster.pods.size, 1);
    });

    it("gets the whole envelope from the log when the termination message was cut", async () => {
      const { cluster, reconcile } = await started();
      const result = Array.from({ length: 20000 }, (_, i) => String(i).padStart(6, "0"));
      cluster.logs.set("default/a-runner", JSON.stringify(envelope({ result })));
      cluster.setPod("a", "Succeeded", terminated(JSON.stringify({ truncated: true, success: true, exitCode: 0, errorType: null, durationMs: 9 })));
      await reconcile("a");
      assert.deepEqual(cluster.run("a")?.status?.result, result);
    });

    describe("when the termination message was cut and the log cannot be read", () => {
      const cut = (success: boolean) => JSON.stringify({ truncated: true, success, exitCode: success ? 0 : 1, errorType: success ? null : "runtime_error", durationMs: 9 });

      it("asks again while the kubelet may come back, then ends on what the message says", async () => {
        const { cluster, reconcile, clock } = await started();
        cluster.readLog = () => Promise.reject(new ApiException(500, "HTTP 500", { message: "dial tcp: connect: no route to host" }, {}));
        cluster.setPod("a", "Succeeded", terminated(cut(true), { finishedMs: T0 + 3000 }));
        clock.now = T0 + 3000 + LOG_WAIT_MS - 1;
        await assert.rejects(reconcile("a"), /no route to host/);
        assert.equal(cluster.run("a")?.status?.phase, "Running");
        clock.now = T0 + 3000 + LOG_WAIT_MS;
        await reconcile("a");
        const status = cluster.run("a")?.status;
        assert.equal(status?.error?.type, "infrastructure_error");
        assert.match(status!.error!.message, /^The script finished but the envelope was too long for the termination message and its log could not be read \(.*no route to host/);
        assert.equal(cluster.pods.size, 0, "its slot and pod are freed");
      });

      it("ends at once with the script's own error type when the apiserver has the log no more", async () => {
        const { cluster, reconcile } = await started();
        cluster.readLog = () => Promise.reject(new ApiException(404, "HTTP 404", { message: "pods \"a-runner\" not found" }, {}));
        cluster.setPod("a", "Failed", terminated(cut(false), { exitCode: 1 }));
        await reconcile("a");
        assert.equal(cluster.run("a")?.status?.error?.type, "runtime_error");
      });
    });

    it("keeps null members of its result", async () => {
      const { cluster, reconcile } = await started();
      cluster.setPod("a", "Succeeded", terminated(JSON.stringify(envelope({ result: { a: null, b: [{ c: null }] } }))));
      await reconcile("a");
      assert.deepEqual(cluster.run("a")?.status?.result, { a: null, b: [{ c: null }] });
    });

    it("is Failed with the error the harness reported", async () => {
      const { cluster, reconcile } = await started();
      cluster.setPod("a", "Succeeded", terminated(JSON.stringify(envelope({
        success: false, result: null, exitCode: 1, error: { type: "timeout", message: "Timed out after 10 s" } }))));
      await reconcile("a");
      assert.equal(cluster.run("a")?.status?.error?.type, "timeout");
      assert.deepEqual(cluster.reasons("a"), ["Created", "Timeout"]);
    });

    it("ends with the message cut when the script raised an exception of megabytes", async () => {
      const { cluster, reconcile } = await started();
      const message = `ValueError: ${"x".repeat(3 * 1024 * 1024)}`;
      cluster.logs.set("default/a-runner", JSON.stringify(envelope({ success: false, result: null, exitCode: 1, error: { type: "runtime_error", message } })));
      cluster.setPod("a", "Succeeded", terminated(JSON.stringify({ truncated: true, success: false, exitCode: 1, errorType: "runtime_error", durationMs: 9 })));
      await reconcile("a");
      const error = cluster.run("a")?.status?.error;
      assert.equal(cluster.run("a")?.status?.phase, "Failed");
      assert.equal(error?.type, "runtime_error");
      assert.ok(error!.message.startsWith("ValueError: xxx") && error!.message.length < 17 * 1024, `${error!.message.length} characters`);
      assert.match(error!.message, /cut from 3145740 bytes\)$/);
      assert.equal(cluster.pods.size, 0);
    });

    it("keeps the outcome stored before when a look from an older view finishes it otherwise: the apiserver refuses, and its pod is removed", async () => {
      // A relist set the caches back: they show the run Running, while it was cancelled meanwhile.
      const { cluster, reconcile, runs, pods, restart } = await started();
      cluster.setPod("a", "Succeeded", terminated(JSON.stringify(envelope({ result: 42 }))));
      runs.freeze();
      pods.freeze();
      const stored = cluster.run("a")!;
      cluster.runs.set("default/a", { ...stored, status: { ...stored.status, phase: "Failed",
        error: { type: "cancelled", message: "The run was cancelled", suggestions: [], availableFunctions: [] } } });
      restart();
      await reconcile("a");
      assert.equal(cluster.run("a")?.status?.error?.type, "cancelled", "not an infrastructure_error in its place");
      assert.deepEqual(cluster.deletedPods, ["a-runner"]);
    });

    it("ends as infrastructure_error, freeing its slot, when the apiserver refuses to store its outcome", async () => {
      const { cluster, reconcile } = await started();
      cluster.maxStoredBytes = 64 * 1024;
      cluster.logs.set("default/a-runner", JSON.stringify(envelope({ stdout: "y".repeat(200 * 1024) })));
      cluster.setPod("a", "Succeeded", terminated(JSON.stringify({ truncated: true, success: true, exitCode: 0, errorType: null, durationMs: 9 })));
      await reconcile("a");
      const status = cluster.run("a")?.status;
      assert.equal(status?.phase, "Failed");
      assert.equal(status?.error?.type, "infrastructure_error");
      assert.match(status!.error!.message, /refused to store the run's successful outcome: .*request is too large/s);
      assert.equal(status?.stdout, undefined);
      assert.equal(cluster.pods.size, 0);
    });

    it("has its status written only when it changed", async () => {
      const { cluster, reconcile } = await started();
      const version = cluster.run("a")?.metadata.resourceVersion;
      await reconcile("a");
      await reconcile("a");
      assert.equal(cluster.run("a")?.metadata.resourceVersion, version);
    });

    it("is not undone by a cache that has not seen its outcome yet", async () => {
      const { cluster, reconcile, runs, clock } = await started();
      runs.freeze();
      cluster.setPod("a", "Succeeded", terminated(JSON.stringify(envelope({ result: "done" }))));
      await reconcile("a");
      assert.equal(cluster.pods.size, 0);
      clock.now += 60_000;
      await reconcile("a");
      assert.equal(cluster.run("a")?.status?.phase, "Succeeded");
      assert.equal(cluster.run("a")?.status?.result, "done");
    });
  });

  describe("the stage latencies", () => {
    it("time pod_created from when the controller heard of a new run, not from its second-resolution creation time", async () => {
      const { create, reconcile, clock, metrics } = setup();
      create("a");
      clock.now = T0 + 750;
      await reconcile("a", "default", T0 + 700);
      assert.deepEqual((await stages(metrics)).pod_created, { count: 1, sum: 0.05 });
    });

    it("time pod_created of a run that waited Queued from its creation", async () => {
      const { cluster, create, reconcile, clock, metrics } = setup({ SCRIPTRUN_MAX_CONCURRENT_RUNS: "1" });
      create("first");
      create("second");
      await reconcile("first");
      await reconcile("second");
      cluster.runs.delete("default/first");
      await reconcile("first");
      clock.now = T0 + 4000;
      await reconcile("second", "default", T0 + 3900);
      assert.equal(cluster.run("second")?.status?.phase, "Pending");
      assert.deepEqual((await stages(metrics)).pod_created, { count: 2, sum: 4 });
    });

    it("time status_written from when the controller heard the pod finished, and pod_started of a run never seen Running", async () => {
      const { cluster, create, reconcile, clock, metrics } = setup();
      create("a");
      await reconcile("a");
      cluster.setPod("a", "Succeeded", terminated(JSON.stringify(envelope())));
      clock.now = T0 + 3600;
      await reconcile("a", "default", T0 + 3580);
      const seen = await stages(metrics);
      assert.deepEqual(seen.status_written, { count: 1, sum: 0.02 });
      assert.deepEqual(seen.pod_started, { count: 1, sum: 1 });
      assert.deepEqual(seen.execution, { count: 1, sum: 0.042 });
    });

    it("count pod_started once for a run seen Running", async () => {
      const { cluster, create, reconcile, metrics } = setup();
      create("a");
      await reconcile("a");
      cluster.setPod("a", "Running", running(T0 + 2000));
      await reconcile("a");
      cluster.setPod("a", "Succeeded", terminated(JSON.stringify(envelope())));
      await reconcile("a");
      assert.deepEqual((await stages(metrics)).pod_started, { count: 1, sum: 2 });
    });
  });

  describe("a run whose cancel was requested", () => {
    const cancel = (run: ScriptRun | undefined) => {
      run!.metadata.annotations = { ...run!.metadata.annotations, [CANCEL_ANNOTATION]: "true" };
    };

    it("fails as cancelled and loses its running pod, even when pods are kept for debugging", async () => {
      const { cluster, create, reconcile, enqueued, clock } = setup({ SCRIPTRUN_KEEP_PODS: "true", SCRIPTRUN_MAX_CONCURRENT_RUNS: "1" });
      create("a");
      create("b", {}, T0 + 1000);
      await reconcile("a");
      await reconcile("b");
      cluster.setPod("a", "Running", running());
      await reconcile("a");
      cancel(cluster.run("a"));
      clock.now = T0 + 4000;
      await reconcile("a");
      assert.equal(cluster.run("a")?.status?.phase, "Failed");
      assert.equal(cluster.run("a")?.status?.error?.type, "cancelled");
      assert.equal(cluster.run("a")?.status?.durationMs, 3000, "timed from the container's start");
      assert.equal(cluster.pod("a"), undefined);
      assert.deepEqual(cluster.reasons("a"), ["Created", "Cancelled"]);
      assert.ok(enqueued.includes("default/b"), "the freed slot goes to the queued run");
    });

    it("keeps what the script had printed, as its runner's log framed it live", async () => {
      const { cluster, create, reconcile } = setup();
      create("a");
      await reconcile("a");
      cluster.setPod("a", "Running", running());
      await reconcile("a");
      const frame = (stream: string, offset: number, text: string, stopped?: string) =>
        JSON.stringify({ scriptrunOutput: 1, stream, offset, bytes: Buffer.byteLength(text), text, ...(stopped ? { stopped } : {}) });
      cluster.logs.set("default/a-runner", [frame("stdout", 0, "before\n"), frame("stderr", 0, "warn\n"), frame("stdout", 7, "more\n", "live_limit"),
        '{"scriptrunOutput":1,"stream":"stdout","offset":12,"by'].join("\n"));
      cancel(cluster.run("a"));
      await reconcile("a");
      const status = cluster.run("a")?.status;
      assert.equal(status?.error?.type, "cancelled");
      assert.deepEqual([status?.stdout, status?.stderr, status?.stdoutTruncated, status?.stderrTruncated], ["before\nmore\n", "warn\n", true, undefined]);
    });

    for (const [how, readLog] of [
      ["cannot be read", () => Promise.reject(new Error("the kubelet is away"))],
      [`is not read within ${CANCEL_LOG_WAIT_MS} ms`, () => new Promise<string>(() => undefined)],
    ] as const) {
      it(`is cancelled without its output when its runner's log ${how}`, async function () {
        this.timeout(CANCEL_LOG_WAIT_MS + 2000);
        const { cluster, create, reconcile } = setup();
        create("a");
        await reconcile("a");
        cluster.setPod("a", "Running", running());
        await reconcile("a");
        cluster.readLog = readLog;
        cancel(cluster.run("a"));
        await reconcile("a");
        assert.deepEqual([cluster.run("a")?.status?.error?.type, cluster.run("a")?.status?.stdout], ["cancelled", undefined]);
      });
    }

    /** Run a holds the one slot with a running pod, b waits; a is cancelled, and its pod, deleted
     * as the kubelet does, terminates over several events. */
    async function cancelledWhileTerminating() {
      const s = setup({ SCRIPTRUN_MAX_CONCURRENT_RUNS: "1" });
      s.create("a");
      s.create("b", {}, T0 + 1000);
      await s.reconcile("a");
      await s.reconcile("b");
      s.cluster.deletePod = async (namespace: string, name: string) => {
        s.cluster.deletedPods.push(name);
        s.cluster.pods.get(runKey(namespace, name))!.metadata!.deletionTimestamp = new Date(T0 + 5000);
      };
      s.cluster.setPod("a", "Running", running());
      await s.reconcile("a");
      cancel(s.cluster.run("a"));
      await s.reconcile("a");
      await s.reconcile("a");
      assert.equal(s.cluster.run("a")?.status?.error?.type, "cancelled");
      assert.deepEqual(s.cluster.deletedPods, ["a-runner"], "deleted once, not again at each event of its termination");
      assert.ok(!s.enqueued.includes("default/b"), "its pod still uses the node");
      return s;
    }

    it("gives the slot to the queued run when its terminating pod has ended", async () => {
      const { cluster, reconcile, enqueued } = await cancelledWhileTerminating();
      cluster.setPod("a", "Failed", terminated(undefined, { exitCode: 137 }));
      await reconcile("a");
      assert.ok(enqueued.includes("default/b"));
    });

    it("gives the slot to the queued run when its pod is gone without a last event", async () => {
      const { cluster, reconcile, enqueued } = await cancelledWhileTerminating();
      cluster.pods.delete("default/a-runner");
      await reconcile("a");
      assert.ok(enqueued.includes("default/b"));
    });

    it("fails as cancelled with no pod while it is still queued", async () => {
      const { cluster, create, reconcile } = setup({ SCRIPTRUN_MAX_CONCURRENT_RUNS: "1" });
      create("a");
      create("b", {}, T0 + 1000);
      await reconcile("a");
      await reconcile("b");
      assert.equal(cluster.run("b")?.status?.phase, "Queued");
      cancel(cluster.run("b"));
      await reconcile("b");
      assert.equal(cluster.run("b")?.status?.error?.type, "cancelled");
      assert.equal(cluster.pod("b"), undefined);
    });

    for (const phase of ["Succeeded", "Running"]) {
      it(`keeps the real outcome when its runner had already ended (the pod ${phase})`, async () => {
        // Running: the kubelet reports the container terminated a moment before the pod's phase.
        const { cluster, create, reconcile } = setup();
        create("a");
        await reconcile("a");
        cluster.setPod("a", phase, terminated(JSON.stringify(envelope({ result: 7 }))));
        cancel(cluster.run("a"));
        await reconcile("a");
        assert.equal(cluster.run("a")?.status?.phase, "Succeeded");
        assert.equal(cluster.run("a")?.status?.result, 7);
      });
    }

    it("is left alone once finished", async () => {
      const { cluster, create, reconcile } = setup();
      create("a");
      await reconcile("a");
      cluster.setPod("a", "Succeeded", terminated(JSON.stringify(envelope({ result: 7 }))));
      await reconcile("a");
      cancel(cluster.run("a"));
      await reconcile("a");
      assert.equal(cluster.run("a")?.status?.phase, "Succeeded");
    });
  });

  describe("a run whose pod went missing", () => {
    it("ends with infrastructure_error once the grace period passed and the apiserver confirms", async () => {
      const { cluster, create, reconcile, clock } = setup();
      create("a");
      await reconcile("a");
      cluster.pods.delete("default/a-runner");
      clock.now += 2000;
      const early = await reconcile("a");
      assert.equal(early.requeueAfterMs, 3000);
      assert.equal(cluster.run("a")?.status?.phase, "Pending");
      clock.now += 3000;
      await reconcile("a");
      assert.equal(cluster.run("a")?.status?.error?.type, "infrastructure_error");
      assert.match(cluster.run("a")!.status!.error!.message, /disappeared/);
      assert.equal(cluster.configMaps.size, 0);
    });

    it("is not declared lost while the apiserver still has the pod the cache misses", async () => {
      const { cluster, create, reconcile, clock, pods } = setup();
      create("a");
      pods.freeze();
      await reconcile("a");
      cluster.setPod("a", "Running", running());
      clock.now += 10_000;
      await reconcile("a");
      assert.equal(cluster.run("a")?.status?.phase, "Running");
      assert.equal(cluster.pods.size, 1);
    });
  });

  describe("a finished run with a TTL", () => {
    it("is deleted once the TTL has passed since it finished, not before", async () => {
      const { cluster, create, reconcile, clock } = setup();
      create("a", { ttlSecondsAfterFinished: 60, script: "def main(:" });
      const first = await reconcile("a");
      assert.equal(cluster.run("a")?.status?.phase, "Failed");
      assert.equal(first.requeueAfterMs, 60_000);
      clock.now += 30_000;
      assert.equal((await reconcile("a")).requeueAfterMs, 30_000);
      assert.ok(cluster.run("a"));
      clock.now += 30_000;
      await reconcile("a");
      assert.equal(cluster.run("a"), undefined);
    });
  });

  describe("a run on a warm pod", () => {
    const CLAIMED_AT = T0 + 2000;
    const WARM_POD = `default/${POOL_POD}`;

    /** A run `a` admitted at CLAIMED_AT with a ready pool pod (started 10 minutes before) there to claim. */
    async function claimed(env: Record<string, string> = {}, spec: Partial<ScriptRunSpecInput> = {}) {
      const s = warmSetup(env);
      s.addPoolPod();
      s.create("a", spec);
      s.clock.now = CLAIMED_AT;
      const result = await s.reconcile("a");
      return { ...s, result };
    }

    /** Its status says it runs on a pod of its own now, started for it, and nothing failed. */
    function assertStartedAgainCold(cluster: FakeCluster): void {
      const status = cluster.run("a")?.status;
      assert.equal(status?.error, undefined, `${status?.error?.type}: ${status?.error?.message}`);
      assert.equal(status?.phase, "Pending");
      assert.equal(status?.start, "cold");
      assert.equal(status?.podName, "a-runner");
      assert.equal(status?.startedAt, undefined, "its own pod has not started yet");
      assert.ok(cluster.pod("a"), "a pod of its own");
      assert.equal(requestOf(cluster, "a").script, cluster.run("a")?.spec.script, "carrying its request");
      assert.ok(!cluster.pods.has(WARM_POD), "the warm pod is gone");
    }

    it("is not declared lost while the apiserver has the warm pod it claimed, when a relist set the caches back to before the claim", async () => {
      const s = warmSetup();
      s.addPoolPod();
      s.create("a", { script: "import time\ndef main():\n    time.sleep(60)\n" });
      const before = { runs: s.runs.snapshot, pods: s.pods.snapshot };
      s.clock.now = CLAIMED_AT;
      await s.reconcile("a");
      s.clock.now = CLAIMED_AT + 300;
      await s.reconcile("a");
      assert.equal(s.cluster.run("a")?.status?.podName, POOL_POD);
      await s.reconcile("a");
      s.warm.forget("default/a");
      s.runs.setBack(before.runs);
      s.pods.setBack(before.pods);
      s.clock.now = CLAIMED_AT + 30_000;
      await s.reconcile("a");
      const status = s.cluster.run("a")?.status;
      assert.equal(status?.error, undefined, status?.error?.message);
      assert.equal(status?.phase, "Running");
      assert.ok(s.cluster.pods.has(WARM_POD), "its pod still runs it");
      assert.equal(s.cluster.pod("a"), undefined, "and no second pod was made for it");
    });

    it("claims a ready pool pod when its resources are its runtime's defaults, with no pod or ConfigMap of its own, and is Running at the next look", async () => {
      const { cluster, warm, result, reconcile, clock } = await claimed();
      assert.equal(cluster.run("a")?.status, undefined, "no status write before the runner's answer had its chance");
      assert.equal(result.requeueAfterMs, 200);
      clock.now += 200;
      await reconcile("a");
      const status = cluster.run("a")?.status;
      assert.equal(status?.phase, "Running");
      assert.equal(status?.start, "warm");
      assert.equal(status?.podName, POOL_POD);
      assert.equal(status?.startedAt, isoTime(CLAIMED_AT), "the script starts at the claim, not at the pod's start");
      assert.deepEqual(status?.runtime, { name: "python", image: "localhost/scriptrun/runner:test" });
      assert.deepEqual(cluster.reasons("a"), ["Claimed"]);
      assert.equal(cluster.pod("a"), undefined);
      assert.equal(cluster.configMaps.size, 0);
      assert.deepEqual([...cluster.pods.keys()], [WARM_POD]);
      const pod = cluster.pods.get(WARM_POD)!;
      assert.equal(ownerRunUid(pod), cluster.run("a")?.metadata.uid);
      assert.equal(startedWarm(pod), true);
      assert.equal(pod.spec?.activeDeadlineSeconds, 602 + 10 + 30, "counted, as the kubelet does, from the pod's start 602 s before the claim");
      assert.deepEqual(warm.sent.map((s) => [s.key, s.pod]), [["default/a", POOL_POD]]);
    });

    it("counts the claim as a warm start of its runtime, and a run with no pool pod left to claim as a cold one", async () => {
      const { create, reconcile, metrics } = await claimed();
      create("b");
      await reconcile("b");
      const starts = (await metrics.runsStarted.get()).values.map((v) => [`${v.labels.start} ${v.labels.runtime}`, v.value]);
      assert.deepEqual(Object.fromEntries(starts), { "warm python": 1, "cold python": 1 });
    });

    it("writes no status at a look that comes right after its claim (the claim's own pod event), only when the answer is later than that", async () => {
      const { cluster, reconcile, clock } = await claimed();
      clock.now = CLAIMED_AT + 30;
      assert.equal((await reconcile("a")).requeueAfterMs, 170);
      assert.equal(cluster.run("a")?.status, undefined);
      clock.now = CLAIMED_AT + 200;
      await reconcile("a");
      assert.equal(cluster.run("a")?.status?.phase, "Running");
    });

    it("finishes with the envelope its runner answered over the attach, and loses the claimed pod", async () => {
      const { cluster, warm, reconcile, clock } = await claimed();
      warm.answers = { kind: "envelope", envelope: anEnvelope({ result: { sum: 6 }, stdout: "hi\n", durationMs: 120 }) };
      clock.now = CLAIMED_AT + 1400;
      await reconcile("a");
      const status = cluster.run("a")?.status;
      assert.equal(status?.phase, "Succeeded");
      assert.deepEqual(status?.result, { sum: 6 });
      assert.equal(status?.stdout, "hi\n");
      assert.equal(status?.durationMs, 120);
      assert.equal(status?.start, "warm");
      assert.equal(status?.podName, POOL_POD);
      assert.equal(status?.startedAt, isoTime(CLAIMED_AT));
      assert.equal(status?.finishedAt, isoTime(CLAIMED_AT + 1400));
      assert.deepEqual(warm.asked.map((a) => a.pod), [POOL_POD]);
      assert.deepEqual(cluster.deletedPods, [POOL_POD], "the claimed pod, not one of the run's deterministic name");
      assert.equal(cluster.pods.size + cluster.configMaps.size, 0);
      assert.deepEqual(cluster.reasons("a"), ["Claimed", "Succeeded"]);
    });

    it("starts again on a pod of its own, not failed, when its runner answers over the attach that it ran nothing", async () => {
      const { cluster, warm, reconcile } = await claimed();
      warm.answers = { kind: "unrun", reason: "the request's checksum did not match" };
      await reconcile("a");
      assertStartedAgainCold(cluster);
      assert.deepEqual(cluster.deletedPods, [POOL_POD]);
      assert.deepEqual(cluster.reasons("a"), ["Claimed", "WarmPodUnused", "Created"]);
      assert.ok(warm.forgotten.includes("default/a"), "what the warm pod said is dropped with it");
      cluster.setPod("a", "Succeeded", terminated(JSON.stringify(envelope({ result: 3 }))));
      await reconcile("a");
      assert.equal(cluster.run("a")?.status?.phase, "Succeeded");
      assert.equal(cluster.run("a")?.status?.result, 3);
      assert.equal(cluster.run("a")?.status?.start, "cold");
    });

    it("removes a second claimed pod that ran nothing, and is not started again, when its first runs the script", async () => {
      // A claim whose answer was lost landed after all (or a deposed leader's did): the run owns two
      // pods, and only one got its request. Seen by a process that does not know which (a restart).
      const { cluster, warm, reconcile } = await claimed();
      const spare = structuredClone(cluster.pods.get(WARM_POD)!);
      spare.metadata!.name = "python-warm-spare";
      spare.status = { ...spare.status, phase: "Succeeded", containerStatuses: [{ name: "runner", image: "i", imageID: "", ready: false, restartCount: 0,
        state: terminated(JSON.stringify({ unrun: true, reason: "no request arrived" })) }] };
      const first = cluster.pods.get(WARM_POD)!;
      cluster.pods.delete(WARM_POD);
      cluster.pods.set("default/python-warm-spare", spare);
      cluster.pods.set(WARM_POD, first);
      warm.sent.length = 0;
      await reconcile("a");
      assert.deepEqual(cluster.deletedPods, ["python-warm-spare"]);
      assert.equal(cluster.pod("a"), undefined, "no pod of its own: the script runs on its first pod");
      assert.equal(cluster.run("a")?.status?.error, undefined);
      assert.ok(!cluster.reasons("a").includes("WarmPodUnused"));
    });

    it("starts again on a pod of its own when its warm pod's termination message says it ran nothing", async () => {
      const { cluster, reconcile } = await claimed();
      setWarmPod(cluster, "Succeeded", terminated(JSON.stringify({ unrun: true, reason: "no request arrived" })));
      await reconcile("a");
      assertStartedAgainCold(cluster);
      assert.deepEqual(cluster.reasons("a"), ["Claimed", "WarmPodUnused", "Created"]);
    });

    it("is cancelled, not started again, when its warm pod ran nothing after the cancel came", async () => {
      const { cluster, reconcile } = await claimed();
      setWarmPod(cluster, "Succeeded", terminated(JSON.stringify({ unrun: true, reason: "no request arrived" })));
      const run = cluster.run("a")!;
      run.metadata.annotations = { ...run.metadata.annotations, [CANCEL_ANNOTATION]: "true" };
      await reconcile("a");
      assert.equal(cluster.run("a")?.status?.error?.type, "cancelled");
      assert.equal(cluster.pod("a"), undefined, "no pod of its own");
      assert.deepEqual(cluster.reasons("a"), ["Claimed", "Cancelled"]);
    });

    it("falls back to its pod's termination message when the attach stream dropped", async () => {
      const { cluster, warm, reconcile } = await claimed();
      warm.answers = { kind: "dropped", reason: "the attach stream closed before the runner's answer" };
      await reconcile("a");
      assert.equal(cluster.run("a")?.status?.phase, "Running", "a dropped stream says nothing of the run");
      assert.ok(cluster.pods.has(WARM_POD));
      setWarmPod(cluster, "Succeeded", terminated(JSON.stringify(envelope({ result: 7, durationMs: 55 }))));
      await reconcile("a");
      const status = cluster.run("a")?.status;
      assert.equal(status?.phase, "Succeeded");
      assert.equal(status?.result, 7);
      assert.equal(status?.durationMs, 55);
      assert.equal(status?.start, "warm");
      assert.equal(status?.startedAt, isoTime(CLAIMED_AT), "from the claim, not from the container's start");
      assert.deepEqual(cluster.deletedPods, [POOL_POD]);
    });

    it("reads the whole envelope from its warm pod's log when the termination message was cut", async () => {
      const { cluster, warm, reconcile } = await claimed();
      warm.answers = { kind: "dropped", reason: "the runner's line passed 16777216 bytes" };
      const result = Array.from({ length: 20000 }, (_, i) => String(i).padStart(6, "0"));
      cluster.logs.set(WARM_POD, JSON.stringify(envelope({ result })));
      setWarmPod(cluster, "Succeeded", terminated(JSON.stringify({ truncated: true, success: true, exitCode: 0, errorType: null, durationMs: 9 })));
      await reconcile("a");
      assert.deepEqual(cluster.run("a")?.status?.result, result);
    });

    it("starts cold, leaving the ready pool pod alone, when it asks for other resources than its runtime's defaults", async () => {
      for (const resources of [{ memory: "512Mi" }, { cpu: "1" }]) {
        const { cluster, warm } = await claimed({}, { resources });
        const status = cluster.run("a")?.status;
        assert.equal(status?.start, "cold", JSON.stringify(resources));
        assert.equal(status?.podName, "a-runner");
        assert.deepEqual(warm.claims, []);
        assert.ok(cluster.pod("a"));
        const pool = cluster.pods.get(WARM_POD)!;
        assert.equal(pool.metadata?.labels?.[POOL_LABEL], "python", "still in the pool");
        assert.equal(ownerRunUid(pool), undefined);
        assert.deepEqual(cluster.reasons("a"), ["Created"]);
      }
    });

    it("starts cold, with its request ConfigMap, when no pool pod is ready", async () => {
      const { cluster, create, reconcile, warm } = warmSetup();
      create("a");
      await reconcile("a");
      assert.equal(cluster.run("a")?.status?.start, "cold");
      assert.ok(cluster.pod("a"));
      assert.equal(warm.sent.length, 0);
    });

    it("is found after a restart by the pod it claimed (its status naming no pod yet), asked over a resumed attach, and finished by its answer", async () => {
      const { cluster, warm, reconcile, clock, config } = warmSetup();
      const run = cluster.add(aRun("a"));
      addClaimedPod(cluster, config, run, T0 - 30_000, T0);
      clock.now = T0 + 1000;
      await reconcile("a");
      assert.deepEqual(warm.asked.map((a) => [a.key, a.pod]), [["default/a", POOL_POD]]);
      assert.deepEqual(warm.claims, [], "never a second claim");
      assert.deepEqual([...cluster.pods.keys()], [WARM_POD], "nor a pod of its own");
      assert.equal(cluster.configMaps.size, 0);
      assert.equal(cluster.run("a")?.status?.error, undefined);
      warm.answers = { kind: "envelope", envelope: anEnvelope({ result: 5 }) };
      await reconcile("a");
      const status = cluster.run("a")?.status;
      assert.equal(status?.phase, "Succeeded");
      assert.equal(status?.result, 5);
      assert.equal(status?.start, "warm");
      assert.equal(status?.podName, POOL_POD);
      assert.deepEqual(cluster.deletedPods, [POOL_POD]);
    });

    it("tells of its start once when the controller before died between its claim and telling, and once when it did not", async () => {
      const { cluster, warm, reconcile, restart, clock, config } = warmSetup();
      const run = cluster.add(aRun("a"));
      addClaimedPod(cluster, config, run, T0 - 30_000, T0);
      clock.now = T0 + 1000;
      await reconcile("a");
      assert.deepEqual(cluster.reasons("a"), ["Claimed"], "the start the dead controller never told");
      assert.equal(cluster.run("a")?.status?.podName, POOL_POD);
      // Had it told, and died then, telling again leaves one event.
      restart();
      await reconcile("a");
      warm.answers = { kind: "envelope", envelope: anEnvelope({ result: 5 }) };
      await reconcile("a");
      assert.deepEqual(cluster.reasons("a"), ["Claimed", "Succeeded"]);
    });

    it("tells of its cold start when the controller before died between creating its pod and telling", async () => {
      const { cluster, create, reconcile, restart } = setup();
      create("a");
      await reconcile("a");
      cluster.events.length = 0;
      restart();
      await reconcile("a");
      assert.deepEqual(cluster.reasons("a"), ["Created"]);
      await reconcile("a");
      assert.deepEqual(cluster.reasons("a"), ["Created"], "told once");
    });

    it("is started again cold after a restart when the pod it claimed got no request", async () => {
      const { cluster, warm, reconcile, clock, config } = warmSetup();
      const run = cluster.add(aRun("a"));
      addClaimedPod(cluster, config, run, T0 - 30_000, T0);
      clock.now = T0 + 1000;
      warm.answers = { kind: "unrun", reason: "no request arrived" };
      await reconcile("a");
      assertStartedAgainCold(cluster);
    });

    it("loses the pod it claimed once finished, found by its owner when the cache lost track of it", async () => {
      const { cluster, reconcile, config } = warmSetup();
      const run = cluster.add(aRun("a"));
      addClaimedPod(cluster, config, run, T0 - 30_000, T0);
      setWarmPod(cluster, "Succeeded", terminated(JSON.stringify(envelope())));
      run.status = { phase: "Succeeded", podName: POOL_POD, start: "warm", startedAt: isoTime(T0), finishedAt: isoTime(T0 + 3000), durationMs: 42 };
      await reconcile("a");
      assert.deepEqual(cluster.deletedPods, [POOL_POD]);
      assert.equal(cluster.pods.size, 0);
    });

    it("is cancelled, timed from its claim, and loses its warm pod", async () => {
      const { cluster, reconcile, clock } = await claimed();
      cluster.run("a")!.metadata.annotations = { [CANCEL_ANNOTATION]: "true" };
      clock.now = CLAIMED_AT + 3000;
      await reconcile("a");
      const status = cluster.run("a")?.status;
      assert.equal(status?.error?.type, "cancelled");
      assert.equal(status?.durationMs, 3000);
      assert.deepEqual(cluster.deletedPods, [POOL_POD]);
    });

    it("holds its slot while it runs on a warm pod, and gives it to the next run when it finishes", async () => {
      const { cluster, warm, create, reconcile, enqueued, addPoolPod } = warmSetup({ SCRIPTRUN_MAX_CONCURRENT_RUNS: "1" });
      addPoolPod();
      create("a");
      create("b", {}, T0 + 1000);
      await reconcile("a");
      await reconcile("b");
      assert.deepEqual(warm.claims, ["default/a"]);
      assert.equal(cluster.run("b")?.status?.phase, "Queued");
      warm.answers = { kind: "envelope", envelope: anEnvelope() };
      await reconcile("a");
      assert.ok(enqueued.includes("default/b"), "the freed slot goes to the queued run");
      await reconcile("b");
      assert.equal(cluster.run("b")?.status?.phase, "Pending");
      assert.equal(cluster.run("b")?.status?.start, "cold", "the pool's one pod is gone");
    });

    it("counts a pod claimed before a restart against the caps", async () => {
      const { cluster, create, reconcile, config } = warmSetup({ SCRIPTRUN_MAX_CONCURRENT_RUNS: "1" });
      const run = cluster.add(aRun("a"));
      addClaimedPod(cluster, config, run, T0 - 30_000, T0);
      create("b", {}, T0 + 1000);
      await reconcile("b");
      assert.equal(cluster.run("b")?.status?.phase, "Queued");
      assert.equal(cluster.pod("b"), undefined);
    });

    // Once failed: a warm run's start is status.startedAt (runStartedMs in statusFromPod.ts); when the
    // status did not carry it yet, statusFromPod judged the claimed pod as one that never started,
    // against the pool pod's creation, and failed the run while its runner might be running the script.
    it("is not failed as a pod that never started when the runs cache has not yet seen its claim's status", async () => {
      const s = warmSetup();
      s.addPoolPod();
      s.create("a");
      s.runs.freeze();
      s.clock.now = CLAIMED_AT;
      await s.reconcile("a");
      // Queued again by the claim's pod event, which the informer delivers before the status's.
      s.clock.now += 200;
      await s.reconcile("a");
      const status = s.cluster.run("a")?.status;
      assert.equal(status?.error, undefined, `${status?.error?.type}: ${status?.error?.message}`);
      assert.ok(s.cluster.pods.has(WARM_POD), "the pod running the script is not deleted");
    });

    // Once failed, as the one above: after a restart the run's status has no startedAt either.
    it("is not failed as a pod that never started when the pod it claimed before a restart had waited in the pool past the start timeout", async () => {
      const { cluster, warm, reconcile, clock, config } = warmSetup();
      const run = cluster.add(aRun("a", { timeoutSeconds: 300 }));
      addClaimedPod(cluster, config, run, T0 - 600_000, T0);
      clock.now = T0 + 1000;
      await reconcile("a");
      assert.equal(warm.asked.length, 1, "the resumed attach is asked");
      const status = cluster.run("a")?.status;
      assert.equal(status?.error, undefined, `${status?.error?.type}: ${status?.error?.message}`);
      assert.ok(cluster.pods.has(WARM_POD), "the runner may be running the script: its pod stays");
    });

    // Once failed: launch() kept the slot it reserved when the claim threw (the cold path released it),
    // so the retry took the run for one whose pod went missing instead of starting it.
    it("is started, not lost, when its claim failed once on a passing apiserver fault", async () => {
      const { cluster, warm, create, reconcile, clock, addPoolPod } = warmSetup();
      addPoolPod();
      create("a");
      warm.failClaims = 1;
      await assert.rejects(reconcile("a"), /Timeout/);
      clock.now += 10_000;
      await reconcile("a");
      assert.deepEqual(warm.claims, ["default/a"], "the retry claims the pod");
      clock.now += 200;
      await reconcile("a");
      const status = cluster.run("a")?.status;
      assert.equal(status?.error, undefined, `${status?.error?.type}: ${status?.error?.message}`);
      assert.equal(status?.podName, POOL_POD);
    });

    // Once failed: relaunch() deleted the warm pod before the run's status stopped naming it; when
    // creating the cold pod then failed once, the retry found neither pod nor reservation, and
    // podMissing ended the run as "disappeared" instead of starting it again.
    it("removes its warm pod that ran nothing even when the status write after its own pod's create failed once", async () => {
      const { cluster, warm, reconcile } = await claimed();
      warm.answers = { kind: "unrun", reason: "no request arrived" };
      cluster.failStatusWrites = 1;
      await assert.rejects(reconcile("a"), /leader changed/);
      assert.ok(cluster.pod("a"), "its own pod was made");
      assert.deepEqual(cluster.deletedPods, [POOL_POD], "the warm pod goes with it, not at a retry that would never come back to it");
      await reconcile("a");
      assertStartedAgainCold(cluster);
    });

    /** Ends the run "a" on its own pod, and reconciles what follows. */
    async function finishCold(cluster: FakeCluster, reconcile: (name: string) => Promise<unknown>): Promise<void> {
      cluster.setPod("a", "Succeeded", terminated(JSON.stringify(envelope({ result: 3 }))));
      await reconcile("a");
      await reconcile("a");
      assert.equal(cluster.run("a")?.status?.phase, "Succeeded");
      assert.equal(cluster.run("a")?.status?.start, "cold");
    }

    it("keeps the status that names its warm pod while another object holds its own pod's name", async () => {
      const { cluster, warm, reconcile, clock } = await claimed();
      clock.now += 1000;
      await reconcile("a"); // no answer yet: shown Running on its warm pod
      const before = cluster.run("a")?.status;
      assert.deepEqual([before?.phase, before?.podName], ["Running", POOL_POD]);
      warm.answers = { kind: "unrun", reason: "no request arrived" };
      cluster.pods.set("default/a-runner", { metadata: { name: "a-runner", namespace: "default" } });
      assert.equal((await reconcile("a")).requeueAfterMs, 2000);
      assert.deepEqual(cluster.run("a")?.status, before, "its slot is counted by the pod its status names");
      assert.ok(cluster.pods.has(WARM_POD), "kept until the run has a pod of its own");
    });

    it("removes its warm pod that ran nothing by its end, when deleting it failed once after its own pod was made", async () => {
      const { cluster, warm, reconcile, clock } = await claimed();
      warm.answers = { kind: "unrun", reason: "no request arrived" };
      cluster.failPodDeletes = 1;
      await assert.rejects(reconcile("a"), /leader changed/);
      assert.ok(cluster.pod("a"), "its own pod was made");
      clock.now += 1000;
      await reconcile("a");
      await finishCold(cluster, reconcile);
      assert.ok(!cluster.pods.has(WARM_POD), "the warm pod that ran nothing stayed");
    });

    it("removes by its end a pod whose claim landed though the claim's answer was lost, when the retry started cold", async () => {
      const { cluster, warm, create, reconcile, clock, pods, addPoolPod } = warmSetup();
      addPoolPod();
      create("a");
      pods.freeze(); // the cache has not seen the claim yet
      warm.landThenFailClaims = 1;
      await assert.rejects(reconcile("a"), /Timeout/);
      assert.equal(ownerRunUid(cluster.pods.get(WARM_POD)!), cluster.run("a")?.metadata.uid, "the claim landed");
      clock.now += 50;
      await reconcile("a");
      assert.equal(cluster.run("a")?.status?.start, "cold");
      pods.thaw();
      await finishCold(cluster, reconcile);
      assert.deepEqual(warm.sent, [], "nothing was sent to the pod the lost claim took");
      assert.ok(!cluster.pods.has(WARM_POD), "the pod the lost claim took stayed");
    });

    it("removes the stray at the retry, and wakes the queue first, when deleting it at the finish failed once, though its pod is kept", async () => {
      const { cluster, warm, create, reconcile, clock, pods, addPoolPod, enqueued } = warmSetup({ SCRIPTRUN_KEEP_PODS: "true", SCRIPTRUN_MAX_CONCURRENT_RUNS: "1" });
      addPoolPod();
      create("a");
      pods.freeze();
      warm.landThenFailClaims = 1;
      await assert.rejects(reconcile("a"), /Timeout/);
      clock.now += 50;
      await reconcile("a");
      pods.thaw();
      create("b", {}, T0 + 1000);
      await reconcile("b");
      assert.equal(cluster.run("b")?.status?.phase, "Queued");
      cluster.setPod("a", "Succeeded", terminated(JSON.stringify(envelope({ result: 3 }))));
      cluster.failPodDeletes = 1;
      await assert.rejects(reconcile("a"), /leader changed/);
      assert.ok(enqueued.includes("default/b"), "the freed slot goes to the queued run");
      assert.ok(cluster.pods.has(WARM_POD));
      await reconcile("a");
      assert.ok(!cluster.pods.has(WARM_POD), "the stray stayed");
      assert.ok(cluster.pod("a"), "its own pod is kept, as asked");
    });

    it("is started again cold, not lost, when creating its own pod failed once after its warm pod ran nothing", async () => {
      const { cluster, warm, reconcile, clock } = await claimed();
      warm.answers = { kind: "unrun", reason: "no request arrived" };
      cluster.failPodCreates = 1;
      await assert.rejects(reconcile("a"), /leader changed/);
      // The work queue retries; by then the grace for a missing pod has passed.
      clock.now += 10_000;
      await reconcile("a");
      assertStartedAgainCold(cluster);
    });
  });
});

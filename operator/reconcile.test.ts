// Reconcile against an in-memory stand-in for the apiserver (unit tests only; the real-cluster
// tests in test/cluster/ exercise the same code through client-node).
import assert from "node:assert/strict";
import { ApiException, type CoreV1Event, type ObjectCache, type V1ConfigMap, type V1ContainerState, type V1Pod } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { silentLogger } from "../core/log.js";
import { CANCEL_ANNOTATION, runKey } from "../core/runs.js";
import type { RunRuntime, ScriptRun, ScriptRunSpecInput } from "../crds/schema.js";
import type { Config } from "./config.js";
import { EventRecorder } from "./events.js";
import type { Kube, StatusPatch } from "./kube.js";
import { type Metrics, createMetrics } from "./metrics.js";
import { Reconciler } from "./reconcile.js";
import { T0, aRun, aRuntime, applyMergePatch, envelope, harnessError, running, terminated, testConfig, testRuntimes } from "./testkit.js";


class FakeCluster implements Kube {
  readonly runs = new Map<string, ScriptRun>();
  readonly pods = new Map<string, V1Pod>();
  readonly configMaps = new Map<string, V1ConfigMap>();
  readonly events: CoreV1Event[] = [];
  readonly logs = new Map<string, string>();
  /** What etcd stores at most, as it answers through the apiserver. */
  maxStoredBytes = 1536 * 1024;
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
  async readRun(namespace: string, name: string) { return this.runs.get(runKey(namespace, name)); }
  async readLog(namespace: string, pod: string) { return this.logs.get(runKey(namespace, pod)) ?? ""; }
  async patchRunStatus(namespace: string, name: string, patch: StatusPatch): Promise<boolean> {
    const run = this.runs.get(runKey(namespace, name));
    if (!run) return false;
    const status = patch.type === "replace" ? structuredClone(patch.status) : applyMergePatch(run.status ?? {}, patch.status);
    if (JSON.stringify({ ...run, status }).length > this.maxStoredBytes) {
      throw new ApiException(500, "etcdserver: request is too large", { message: "etcdserver: request is too large" }, {});
    }
    this.runs.set(runKey(namespace, name), { ...run, status: status as ScriptRun["status"], metadata: { ...run.metadata, resourceVersion: String(++this.version) } });
    return true;
  }
  async deletePod(namespace: string, name: string) { this.pods.delete(runKey(namespace, name)); }
  async deleteConfigMap(namespace: string, name: string) { this.configMaps.delete(runKey(namespace, name)); }
  async deleteRun(namespace: string, name: string, uid: string) {
    if (this.run(name, namespace)?.metadata.uid === uid) this.runs.delete(runKey(namespace, name));
  }
  async createEvent(event: CoreV1Event) { this.events.push(event); }
  async patchRuntimeStatus(): Promise<boolean> { throw new Error("Runs never write a runtime's status"); }
}

/** A cache that sees the fake cluster as it is, or as it was when `freeze` was called. */
class Cache<T> implements ObjectCache<T> {
  private frozen: Map<string, T> | undefined;
  constructor(private readonly live: Map<string, T>) {}
  freeze(): void {
    this.frozen = new Map([...this.live].map(([k, v]) => [k, structuredClone(v)]));
  }
  get(name: string, namespace?: string): T | undefined {
    return (this.frozen ?? this.live).get(runKey(namespace ?? "", name));
  }
  list(): readonly T[] {
    return [...(this.frozen ?? this.live).values()];
  }
}

const syntaxError = { type: "syntax_error" as const, message: "invalid syntax", line: 1, suggestions: [], availableFunctions: [] };

function setup(env: Record<string, string> = {}, runtimes = testRuntimes()) {
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
  const reconciler = new Reconciler({
    kube: cluster, runs, pods, preflight, config, metrics, log: silentLogger(), runtimes,
    images: { observedImage: (runtime, ok, message) => images.push({ runtime, ok, message }) },
    warm: { claim: async () => undefined, send: () => {}, answer: () => undefined, forget: () => {} },
    events: new EventRecorder(cluster, silentLogger(), "test", "scriptrun-system"), enqueue: (key) => enqueued.push(key), now: () => clock.now,
  });
  const reconcile = (name: string, namespace = "default", heardAt?: number) => reconciler.reconcile(runKey(namespace, name), heardAt);
  const create = (name: string, spec: Partial<ScriptRunSpecInput> = {}, createdMs = T0) => cluster.add(aRun(name, spec, { createdMs }));
  return { cluster, config, clock, enqueued, runs, pods, preflight, metrics, reconcile, create, images, runtimes };
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

describe("reconciling a ScriptRun", () => {
  describe("a new run", () => {
    it("gets its request ConfigMap and pod, and is Pending with the pod's name", async () => {
      const { cluster, create, reconcile } = setup();
      create("a", { args: [1] });
      const result = await reconcile("a");
      assert.equal(cluster.pod("a")?.metadata?.name, "a-runner");
      assert.deepEqual(JSON.parse(cluster.configMaps.get("default/a-request")!.data!["request.json"]!).args, [1]);
      assert.equal(cluster.run("a")?.status?.phase, "Pending");
      assert.equal(cluster.run("a")?.status?.podName, "a-runner");
      assert.deepEqual(cluster.reasons("a"), ["Created"]);
      assert.equal(result.requeueAfterMs, 120_000);
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
      assert.equal(JSON.parse(cluster.configMaps.get("default/fit-request")!.data!["request.json"]!).resources.memory, "512Mi");
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
      cluster.pods.delete("default/a-runner");
      cluster.configMaps.delete("default/a-request");
      await reconcile("a");
      assert.equal(cluster.pod("a")?.metadata?.ownerReferences?.[0]?.uid, cluster.run("a")?.metadata.uid);
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

    it("are never exceeded by reconciles running at once", async () => {
      const { cluster, create, reconcile } = setup({ SCRIPTRUN_MAX_CONCURRENT_RUNS: "1" });
      for (const name of ["a", "b", "c"]) create(name);
      await Promise.all(["a", "b", "c"].map((name) => reconcile(name)));
      assert.equal(cluster.pods.size, 1);
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

    it("keeps its pod and ConfigMap when the operator keeps pods for debugging", async () => {
      const { cluster, reconcile } = await started({ SCRIPTRUN_KEEP_PODS: "true" });
      cluster.setPod("a", "Succeeded", terminated(JSON.stringify(envelope())));
      await reconcile("a");
      await reconcile("a");
      assert.equal(cluster.run("a")?.status?.phase, "Succeeded");
      assert.equal(cluster.pods.size + cluster.configMaps.size, 2);
    });

    it("gets the whole envelope from the log when the termination message was cut", async () => {
      const { cluster, reconcile } = await started();
      const result = Array.from({ length: 20000 }, (_, i) => String(i).padStart(6, "0"));
      cluster.logs.set("default/a-runner", JSON.stringify(envelope({ result })));
      cluster.setPod("a", "Succeeded", terminated(JSON.stringify({ truncated: true, success: true, exitCode: 0, errorType: null, durationMs: 9 })));
      await reconcile("a");
      assert.deepEqual(cluster.run("a")?.status?.result, result);
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

    it("keeps the real outcome when its pod had already finished", async () => {
      const { cluster, create, reconcile } = setup();
      create("a");
      await reconcile("a");
      cluster.setPod("a", "Succeeded", terminated(JSON.stringify(envelope({ result: 7 }))));
      cancel(cluster.run("a"));
      await reconcile("a");
      assert.equal(cluster.run("a")?.status?.phase, "Succeeded");
      assert.equal(cluster.run("a")?.status?.result, 7);
    });

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
});

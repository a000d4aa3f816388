// Warm start on the real cluster: a runtime's pool of runner pods started before their runs, each
// run claiming one (one optimistic write), getting its request over pods/attach and answering on the
// same stream. Every behaviour case through a warm pod; claims racing from two replicas; the
// controller killed in the middle of claims, attaches and status writes; pool pods killed before
// and after their request; the runtime changed under a live pool.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { PatchStrategy, type V1Pod, setHeaderOptions } from "@kubernetes/client-node";
import { silentLogger } from "../../core/log.js";
import { parseRuntime } from "../../core/runtime.js";
import { RUNTIMES } from "../../core/runtimeCatalog.js";
import type { ScriptRuntime } from "../../crds/runtime.js";
import { ClientKube } from "../../operator/kube.js";
import { PodAttacher } from "../../operator/warmAttach.js";
import { POOL_LABEL, TEMPLATE_LABEL } from "../../operator/warmPool.js";
import { WarmRuns } from "../../operator/warmRuns.js";
import { assertMatchesCase, loadCases } from "../cases.js";
import { createRun, finished, getRun, outcomeOf, startController, stopController } from "./controller.js";
import { core, createNamespace, custom, deleteNamespace, eventReasons, eventually, kc } from "./kube.js";

const IMAGE = "localhost/scriptrun/runner:test";
const POOL = 2;
const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

const poolPods = async (namespace: string, runtime: string) =>
  (await core.listNamespacedPod({ namespace, labelSelector: `${POOL_LABEL}=${runtime}` })).items;
const isReady = (pod: V1Pod) => pod.status?.phase === "Running" && !pod.metadata?.deletionTimestamp
  && pod.status.containerStatuses?.some((c) => c.state?.running) === true;

describe("warm start on the real cluster", function () {
  let namespace: string;
  let runtime: string;
  let controller: ChildProcess;

  const getRuntime = async () => (await custom.getClusterCustomObject({ ...RUNTIMES, name: runtime })) as ScriptRuntime;
  /** Waits until the pool has `size` ready pods of the runtime's current template. */
  const poolReady = (size = POOL) => eventually(`${size} ready warm pods`, async () => {
    const ready = (await poolPods(namespace, runtime)).filter(isReady);
    return ready.length >= size ? ready : undefined;
  }, 90_000);

  before(async () => {
    namespace = await createNamespace("warm");
    runtime = `${namespace}-warm`;
    await custom.createClusterCustomObject({
      ...RUNTIMES,
      body: { apiVersion: "scriptrun.dev/v1alpha1", kind: "ScriptRuntime", metadata: { name: runtime },
        spec: { image: IMAGE, warmPool: { size: POOL, namespaces: [namespace] } } },
    });
    controller = startController(namespace);
  });
  after(async () => {
    await stopController(controller);
    await custom.deleteClusterCustomObject({ ...RUNTIMES, name: runtime }).catch(() => undefined);
    await deleteNamespace(namespace);
  });

  it("keeps the runtime's pool full, and says so on the runtime", async () => {
    await poolReady();
    const status = await eventually("the runtime to count its pool", async () => {
      const s = (await getRuntime()).status;
      return s?.warm === `${POOL}/${POOL}` ? s : undefined;
    });
    assert.deepEqual(status.warmPools, [{ namespace, ready: POOL, desired: POOL }]);
  });

  it("answers every behaviour case through a warm pod", async () => {
    const failures: string[] = [];
    for (const c of loadCases()) {
      await poolReady(1);
      const name = `case-${c.name}`;
      await createRun(namespace, name, { ...c.request, runtime });
      const run = await finished(namespace, name);
      try {
        assertMatchesCase(c, outcomeOf(run.status ?? {}), Number(run.status?.durationMs ?? 0) / 1000);
        // Refused before any pod (preflight) is the same for both paths; the others ran warm.
        if (run.status?.podName !== undefined) assert.equal(run.status.start, "warm", `${c.name} started ${String(run.status.start)}`);
      } catch (err) {
        failures.push((err as Error).message.slice(0, 600));
      }
    }
    assert.deepEqual(failures, []);
  });

  it("never lets two replicas claim one pod: each racing claim gets its own, or none", async () => {
    const ready = await poolReady();
    const parsed = parseRuntime(await getRuntime());
    assert.ok(parsed.ok);
    // Two replicas' claimers, each with the pool as its own cache saw it, each claiming for runs of its own.
    const replica = () => new WarmRuns({
      kube: new ClientKube(kc), attacher: new PodAttacher(kc), log: silentLogger(), graceSeconds: 30,
      pods: { get: () => undefined, list: () => ready }, templateOf: () => ready[0]!.metadata!.labels![TEMPLATE_LABEL]!,
      claimed: () => {}, enqueue: () => {},
    });
    const request = { script: "", mode: "function" as const, entrypoint: "main", args: [], kwargs: {}, stdin: "", timeoutSeconds: 5,
      resources: { cpu: "500m", memory: "256Mi" }, limits: { pids: 64, outputBytes: 1024 } };
    const run = (i: number) => ({ metadata: { name: `race-${i}`, namespace, uid: `00000000-0000-0000-0000-00000000000${i}` }, spec: { script: "x" } });
    const [a, b] = [replica(), replica()];
    const claims = await Promise.all([0, 1, 2, 3].map((i) => (i % 2 === 0 ? a : b).claim(run(i), parsed.runtime, request)));
    const won = claims.filter((pod) => pod !== undefined).map((pod) => pod!.metadata!.name!);
    assert.equal(won.length, ready.length, `claimed ${JSON.stringify(won)} of ${ready.length} pods`);
    assert.equal(new Set(won).size, won.length, "a pod was claimed twice");
    for (const name of won) {
      const pod = await core.readNamespacedPod({ namespace, name });
      assert.equal(pod.metadata?.ownerReferences?.length, 1);
      await core.deleteNamespacedPod({ namespace, name });
    }
  });

  it("finishes every run once when the controller is killed during claims, attaches and status writes", async () => {
    await poolReady();
    const names = Array.from({ length: 6 }, (_, i) => `killed-${i}`);
    for (const [i, name] of names.entries()) {
      await createRun(namespace, name, { script: `import time\ndef main():\n    time.sleep(1)\n    return ${i}\n`, runtime });
    }
    // Kill it as the first claims and attaches go out, and again while the rest are in flight.
    for (const delayMs of [300, 1500]) {
      await new Promise((r) => setTimeout(r, delayMs));
      await stopController(controller, "SIGKILL");
      controller = startController(namespace);
    }
    for (const [i, name] of names.entries()) {
      const run = await finished(namespace, name, 120_000);
      assert.equal(run.status?.phase, "Succeeded", `${name}: ${JSON.stringify(run.status?.error)}`);
      assert.equal(run.status?.result, i);
      // Every start but one was of a pod that ran nothing (and said so).
      const said = await eventReasons(namespace, name);
      const starts = said.filter((r) => r === "Claimed" || r === "Created").length;
      assert.equal(starts - said.filter((r) => r === "WarmPodUnused").length, 1, `${name}: ${said.join(", ")}`);
    }
  });

  it("refills a pool whose pod was killed before its request, and fails a run whose pod was killed after", async () => {
    const [victim] = await poolReady();
    await core.deleteNamespacedPod({ namespace, name: victim!.metadata!.name!, gracePeriodSeconds: 0 });
    await eventually("the pool to refill", async () => {
      const ready = (await poolPods(namespace, runtime)).filter(isReady);
      return ready.length === POOL && !ready.some((p) => p.metadata?.name === victim!.metadata!.name) ? true : undefined;
    }, 90_000);
    await createRun(namespace, "doomed", { script: "import time\ndef main():\n    time.sleep(30)\n", runtime, timeoutSeconds: 60 });
    const podName = await eventually("the run to claim a pod", async () => (await getRun(namespace, "doomed")).status?.podName as string | undefined);
    await core.deleteNamespacedPod({ namespace, name: podName, gracePeriodSeconds: 0 });
    const run = await finished(namespace, "doomed", 90_000);
    assert.equal((run.status?.error as { type: string } | undefined)?.type, "infrastructure_error", JSON.stringify(run.status));
    assert.equal(run.status?.start, "warm");
  });

  it("replaces the pool when its runtime changes, and runs later runs on the new pods", async () => {
    const before = new Set((await poolReady()).map((p) => p.metadata!.name));
    await custom.patchClusterCustomObject({ ...RUNTIMES, name: runtime, body: { spec: { requireObjectResult: true } } }, merge);
    await eventually("a pool of new pods only", async () => {
      const pods = (await poolPods(namespace, runtime)).filter((p) => !p.metadata?.deletionTimestamp);
      return pods.length === POOL && pods.every((p) => !before.has(p.metadata!.name) && isReady(p)) ? true : undefined;
    }, 90_000);
    await createRun(namespace, "after-change", { script: "def main():\n    return 1\n", runtime });
    const run = await finished(namespace, "after-change");
    assert.equal(run.status?.start, "warm");
    assert.equal((run.status?.error as { type: string } | undefined)?.type, "invalid_result", "the new pods judge by the changed runtime");
  });

  it("removes the pool when its runtime goes", async () => {
    await custom.deleteClusterCustomObject({ ...RUNTIMES, name: runtime });
    await eventually("the pool to go", async () => ((await poolPods(namespace, runtime)).filter((p) => !p.metadata?.deletionTimestamp).length === 0 ? true : undefined), 60_000);
  });
});

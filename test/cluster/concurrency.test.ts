// The controller's caps and leader election, on the real cluster.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import * as k8s from "@kubernetes/client-node";
import { createRun, finished, startController, stopController } from "./controller.js";
import { core, createNamespace, deleteNamespace, eventReasons, eventually, kc } from "./kube.js";

const coordination = kc.makeApiClient(k8s.CoordinationV1Api);

describe("the controller's caps and replicas", function () {
  let namespace: string;
  const controllers: ChildProcess[] = [];
  before(async () => {
    namespace = await createNamespace("caps");
  });
  after(async () => {
    await Promise.all(controllers.map((c) => stopController(c)));
    await deleteNamespace(namespace);
  });

  it("never runs more than 4 pods at once with a cap of 4, and finishes all 20 runs in order", async () => {
    const controller = startController(namespace, { SCRIPTRUN_MAX_CONCURRENT_RUNS: "4", SCRIPTRUN_MAX_CONCURRENT_RUNS_PER_NAMESPACE: "4" });
    controllers.push(controller);
    const names = Array.from({ length: 20 }, (_, i) => `capped-${String(i).padStart(2, "0")}`);
    for (const name of names) {
      await createRun(namespace, name, { script: "import time\ndef main():\n    time.sleep(0.5)\n    return 1\n" });
      await new Promise((r) => setTimeout(r, 20)); // distinct creation order
    }
    let most = 0;
    let done = false;
    const watch = (async () => {
      while (!done) {
        const pods = await core.listNamespacedPod({ namespace, labelSelector: "app.kubernetes.io/managed-by=scriptrun-operator" });
        most = Math.max(most, pods.items.filter((p) => !p.metadata?.deletionTimestamp && ["Pending", "Running"].includes(p.status?.phase ?? "")).length);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const runs = await Promise.all(names.map((n) => finished(namespace, n, 240_000)));
    done = true;
    await watch;
    assert.ok(most <= 4, `${most} runner pods ran at once`);
    const failed = runs.filter((r) => r.status?.phase !== "Succeeded").map((r) => `${r.metadata.name}: ${JSON.stringify(r.status?.error)}`);
    assert.deepEqual(failed, [], "every run succeeded");
    // Admitted in creation order: a run that had to wait is admitted before any later run (runs
    // admitted in one go race by milliseconds, and the first ones each take their own time to pass
    // preflight, so only a wait gives an order to keep).
    const admitted = runs.map((r) => Date.parse(String((r.status?.conditions as Array<{ type: string; lastTransitionTime: string }> | undefined)?.find((c) => c.type === "PodCreated")?.lastTransitionTime)));
    const queued = await Promise.all(names.map(async (name) => (await eventReasons(namespace, name)).includes("Queued")));
    assert.ok(queued.filter(Boolean).length >= 10, `only ${queued.filter(Boolean).length} of 20 runs waited`);
    for (const [i, waited] of queued.entries()) {
      if (!waited) continue;
      for (let j = i + 1; j < names.length; j++) assert.ok(admitted[j]! >= admitted[i]! - 1000, `${names[j]} was admitted before ${names[i]}, which was waiting`);
    }
    await stopController(controller);
  });

  it("lets only the leader act, and hands over when the leader is killed", async () => {
    const env = { SCRIPTRUN_LEADER_ELECTION: "true", SCRIPTRUN_LEASE_NAMESPACE: namespace, SCRIPTRUN_LEASE_NAME: "sr-test",
      SCRIPTRUN_LEASE_DURATION_SECONDS: "6", SCRIPTRUN_RENEW_PERIOD_SECONDS: "1" };
    const first = startController(namespace, { ...env, SCRIPTRUN_LEADER_IDENTITY: "first" });
    controllers.push(first);
    const holder = async () => (await coordination.readNamespacedLease({ name: "sr-test", namespace })).spec?.holderIdentity;
    await eventually("the first replica to lead", async () => ((await holder()) === "first" ? true : undefined));
    const second = startController(namespace, { ...env, SCRIPTRUN_LEADER_IDENTITY: "second" });
    controllers.push(second);
    await createRun(namespace, "led", { script: "def main():\n    return 'led'\n" });
    assert.equal((await finished(namespace, "led")).status?.result, "led");
    assert.equal(await holder(), "first");
    await stopController(first, "SIGKILL");
    await eventually("the second replica to take over", async () => ((await holder()) === "second" ? true : undefined), 30_000);
    await createRun(namespace, "handed-over", { script: "def main():\n    return 'second'\n" });
    assert.equal((await finished(namespace, "handed-over")).status?.result, "second");
  });
});

// The controller's caps and leader election, on the real cluster.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import * as k8s from "@kubernetes/client-node";
import { createRun, finished, startController, stopController } from "./controller.js";
import { core, createNamespace, deleteNamespace, eventReasons, eventually, kc } from "./kube.js";

const coordination = kc.makeApiClient(k8s.CoordinationV1Api);

/** A port free now, for a controller's metrics server (its own port 0 would hide which it took). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The sum of a metric's samples whose name and labels start with `series`, as the controller serves them. */
async function metric(port: number, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text.split("\n").filter((line) => line.startsWith(series) && [" ", "{"].includes(line.charAt(series.length)))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
}

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
    const secondMetrics = await freePort();
    const second = startController(namespace, { ...env, SCRIPTRUN_LEADER_IDENTITY: "second", SCRIPTRUN_METRICS_PORT: String(secondMetrics) });
    controllers.push(second);
    await eventually("the second replica's metrics", async () => metric(secondMetrics, "scriptrun_controller_is_leader"));
    await createRun(namespace, "led", { script: "def main():\n    return 'led'\n" });
    assert.equal((await finished(namespace, "led")).status?.result, "led");
    assert.equal(await holder(), "first");
    // The follower did nothing: every event on the run is the leader's (events.ts names the
    // replica in reportingInstance), and the follower took no key from a work queue, let alone
    // started a run (a replica that reconciled the run at all counts its wait in the queue stage).
    assert.deepEqual({
      leader: await metric(secondMetrics, "scriptrun_controller_is_leader"),
      reconciled: await metric(secondMetrics, 'scriptrun_stage_duration_seconds_count{stage="queue"}'),
      started: await metric(secondMetrics, "scriptrun_runs_started_total"),
    }, { leader: 0, reconciled: 0, started: 0 });
    const events = (await core.listNamespacedEvent({ namespace, fieldSelector: "involvedObject.name=led" })).items;
    assert.ok(events.some((e) => e.reason === "Created"), "the leader told of the run's pod");
    assert.deepEqual([...new Set(events.map((e) => e.reportingInstance))], ["first"]);
    await stopController(first, "SIGKILL");
    await eventually("the second replica to take over", async () => ((await holder()) === "second" ? true : undefined), 30_000);
    await createRun(namespace, "handed-over", { script: "def main():\n    return 'second'\n" });
    assert.equal((await finished(namespace, "handed-over")).status?.result, "second");
  });
});

// The short version of `make scale` (bench/scale/): the same harness on 3 fake nodes played by kwok,
// 200 ScriptRuns through the real controller and API and 20 callers on /execute, none lost; and
// kwok ending a deleted pod's life on a fake node, which no kubelet would.
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SCALE_TAINT } from "../../bench/scale/fakeNodes.js";
import { runScale } from "../../bench/scale/harness.js";
import { createFakeNodes, deleteFakeNodes, startKwok, stopKwok } from "../../bench/scale/kwok.js";
import { RUNNER_IMAGE, core, createNamespace, deleteNamespace, eventually, kc } from "./kube.js";

const RUNS = 200;
const CALLERS = 20;

describe("make scale, short: fake nodes played by kwok", function () {
  it(`takes ${RUNS} runs through the controller and the API onto 3 fake nodes and loses none`, async () => {
    const result = await runScale(kc, {
      nodes: 3, runs: RUNS, inFlight: 100, senders: 16, callers: CALLERS, stallMs: 30_000, build: "source",
      signal: new AbortController().signal, say: () => undefined,
    });
    const records = [...result.runsPhase.drive.records.entries()];
    const wrong = records.filter(([, r]) => r.finishedAt === undefined || r.wrong !== undefined)
      .map(([name, r]) => `${name}: ${r.wrong ?? (r.vanished ? "deleted before it finished" : "never finished")}`);
    assert.deepEqual(wrong, []);
    assert.equal(records.length, RUNS, JSON.stringify(result.runsPhase.drive.answers));
    assert.deepEqual([result.figures.lost, result.figures.wrong, result.figures.refused], [0, 0, 0]);
    assert.equal(result.callers?.right, CALLERS, JSON.stringify(result.callers?.answers));
    // Everything the harness made is gone again.
    assert.deepEqual((await core.listNode({ labelSelector: `${SCALE_TAINT.key}=true` })).items, []);
  });

  it("deletes a pod on a fake node that no kubelet ends", async () => {
    const kwok = startKwok(process.env.KUBECONFIG!, join(tmpdir(), `scriptrun-scale-test-kwok-${process.pid}.log`));
    let namespace: string | undefined;
    try {
      const [node] = await createFakeNodes(kc, 1, kwok);
      namespace = await createNamespace("kwok-delete");
      // Bound to the fake node directly and never started there (it is not a runner pod), with a
      // grace period a kubelet would take up: only kwok's Stage deletes it within seconds.
      await core.createNamespacedPod({ namespace, body: {
        metadata: { name: "idle" },
        spec: {
          nodeName: node, terminationGracePeriodSeconds: 300, tolerations: [{ ...SCALE_TAINT, operator: "Equal" }],
          containers: [{ name: "idle", image: RUNNER_IMAGE }],
        },
      } });
      await core.deleteNamespacedPod({ namespace, name: "idle" });
      await eventually("kwok to delete the pod", async () =>
        (await core.listNamespacedPod({ namespace: namespace! })).items.length === 0 || undefined, 15_000);
    } finally {
      if (namespace) await deleteNamespace(namespace);
      await deleteFakeNodes(kc);
      await stopKwok(kwok);
    }
  });
});

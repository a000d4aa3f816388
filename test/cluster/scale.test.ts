// The short version of `make scale` (bench/scale/): the same harness on 3 fake nodes played by kwok,
// 200 ScriptRuns through the real controller and API and 20 callers on /execute, none lost; the
// floor (bench/scale/floor.ts) in the controller's place, whose runs must succeed as well for its
// figures to mean anything; and kwok ending a deleted pod's life on a fake node, which no kubelet would.
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SCALE_TAINT } from "../../bench/scale/fakeNodes.js";
import { type ScaleResult, runScale } from "../../bench/scale/harness.js";
import { createFakeNodes, deleteFakeNodes, startKwok, stopKwok } from "../../bench/scale/kwok.js";
import { RUNNER_IMAGE, core, createNamespace, deleteNamespace, eventually, kc } from "./kube.js";

const RUNS = 200;
const CALLERS = 20;
const FLOOR_RUNS = 20;

/** Why each run that did not finish with the hello script's success did not: none, for a pass. */
function notRight(result: ScaleResult): string[] {
  return [...result.runsPhase.drive.records.entries()].filter(([, r]) => r.finishedAt === undefined || r.wrong !== undefined)
    .map(([name, r]) => `${name}: ${r.wrong ?? (r.vanished ? "deleted before it finished" : "never finished")}`);
}

describe("make scale, short: fake nodes played by kwok", function () {
  it(`takes ${RUNS} runs through the controller and the API onto 3 fake nodes and loses none`, async () => {
    const result = await runScale(kc, {
      nodes: 3, runs: RUNS, inFlight: 100, senders: 16, callers: CALLERS, stallMs: 30_000, build: "source", controller: "operator",
      signal: new AbortController().signal, say: () => undefined,
    });
    assert.deepEqual(notRight(result), []);
    assert.equal(result.runsPhase.drive.records.size, RUNS, JSON.stringify(result.runsPhase.drive.answers));
    assert.deepEqual([result.figures.lost, result.figures.wrong, result.figures.refused], [0, 0, 0]);
    assert.equal(result.callers?.right, CALLERS, JSON.stringify(result.callers?.answers));
    assert.equal(result.goals.length > 0, true);
    // Everything the harness made is gone again.
    assert.deepEqual((await core.listNode({ labelSelector: `${SCALE_TAINT.key}=true` })).items, []);
  });

  it(`takes ${FLOOR_RUNS} runs through the floor in the controller's place, with no goals to read against`, async () => {
    const result = await runScale(kc, {
      nodes: 1, runs: FLOOR_RUNS, inFlight: FLOOR_RUNS, senders: 4, callers: 0, stallMs: 30_000, build: "source", controller: "floor",
      signal: new AbortController().signal, say: () => undefined,
    });
    assert.deepEqual(notRight(result), []);
    assert.deepEqual([result.figures.runs, result.figures.lost, result.figures.wrong, result.figures.refused], [FLOOR_RUNS, 0, 0, 0]);
    assert.deepEqual(result.goals, []);
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

// The controller on the real cluster: every behaviour case as a ScriptRun, run
// in the local runner image (the request in the pod's annotation); a request large enough for a
// ConfigMap; a restarted controller; a run deleted mid-run.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { type ApiException, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { MAX_ANNOTATED_REQUEST_BYTES } from "../../operator/podSpec.js";
import { assertMatchesCase, caseFailures, loadCases } from "../cases.js";
import { createRun, deleteRun, finished, getRun, outcomeOf, startController, stopController } from "./controller.js";
import { core, createNamespace, custom, deleteNamespace, eventually } from "./kube.js";

const runPods = async (namespace: string, run: string) =>
  (await core.listNamespacedPod({ namespace, labelSelector: `scriptrun.dev/run=${run}` })).items;

const runMaps = async (namespace: string, run: string) =>
  (await core.listNamespacedConfigMap({ namespace, labelSelector: `scriptrun.dev/run=${run}` })).items;
// Makes a request too large for the pod's annotation: it travels in a ConfigMap.
const LARGE_COMMENT = `# ${"x".repeat(MAX_ANNOTATED_REQUEST_BYTES)}\n`;

describe("ScriptRuns on the real cluster", function () {
  let namespace: string;
  let controller: ChildProcess;
  before(async () => {
    namespace = await createNamespace("sr");
    controller = startController(namespace);
  });
  after(async () => {
    await stopController(controller);
    await deleteNamespace(namespace);
  });

  it("end every behaviour case with the expected status", async () => {
    // A few at a time: two cores run the node, the control plane and the pods.
    const failures = await caseFailures(loadCases(), 6, async (c) => {
      await createRun(namespace, `case-${c.name}`, c.request);
      const run = await finished(namespace, `case-${c.name}`);
      assertMatchesCase(c, outcomeOf(run.status ?? {}), Number(run.status?.durationMs ?? 0) / 1000);
    });
    assert.deepEqual(failures, []);
  });

  it("fails a syntax error at once, with no pod", async () => {
    await createRun(namespace, "no-pod", { script: "def main(:\n" });
    const run = await finished(namespace, "no-pod", 20_000);
    assert.equal((run.status?.error as { type: string }).type, "syntax_error");
    assert.equal((await runPods(namespace, "no-pod")).length, 0);
  });

  it("keeps a finished run's status: the apiserver refuses one that changes it", async () => {
    // What a reconcile from a view older than the run's end (a relist's cache, a deposed leader) would write.
    await createRun(namespace, "final", { script: "def main(:\n" });
    const ended = await finished(namespace, "final", 20_000);
    const patch = (status: Record<string, unknown>) => custom.patchNamespacedCustomObjectStatus({ group: "scriptrun.dev", version: "v1alpha1",
      plural: "scriptruns", namespace, name: "final", body: { status } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    const refused = (err: ApiException<unknown>) => err.code === 422 && /a finished run's status is final/.test(err.message);
    await assert.rejects(patch({ phase: "Running" }), refused);
    await assert.rejects(patch({ summary: "another outcome" }), refused);
    await patch({ phase: "Failed" });
    assert.deepEqual((await getRun(namespace, "final")).status, ended.status);
  });

  it("completes a run once, with one pod, when the controller is killed mid-run", async () => {
    await createRun(namespace, "survivor", { script: "import time\ndef main():\n    time.sleep(4)\n    return 'once'\n" });
    await eventually("the survivor's pod", async () => ((await runPods(namespace, "survivor")).length ? true : undefined));
    await stopController(controller, "SIGKILL");
    controller = startController(namespace);
    const run = await finished(namespace, "survivor");
    assert.equal(run.status?.phase, "Succeeded");
    assert.equal(run.status?.result, "once");
    const events = await core.listNamespacedEvent({ namespace, fieldSelector: "involvedObject.name=survivor" });
    const created = events.items.filter((e) => /created/i.test(e.reason ?? "") && /pod/i.test(e.message ?? ""));
    assert.ok(created.length <= 1, `pod created ${created.length} times`);
  });

  it("runs a request too large for the pod's annotation from its ConfigMap, and removes both when done", async () => {
    const script = `${LARGE_COMMENT}def main():\n    return 'carried'\n`;
    await createRun(namespace, "large", { script });
    const run = await finished(namespace, "large");
    assert.equal(run.status?.result, "carried");
    await eventually("the pod and ConfigMap to go", async () =>
      ((await runPods(namespace, "large")).length === 0 && (await runMaps(namespace, "large")).length === 0 ? true : undefined), 60_000);
  });

  it("removes the pod and ConfigMap of a run deleted mid-run", async () => {
    await createRun(namespace, "doomed", { script: `${LARGE_COMMENT}import time\ndef main():\n    time.sleep(60)\n`, timeoutSeconds: 90 });
    await eventually("the doomed run to run", async () =>
      ((await getRun(namespace, "doomed")).status?.phase === "Running" ? true : undefined));
    assert.equal((await runMaps(namespace, "doomed")).length, 1, "its request came in a ConfigMap");
    await deleteRun(namespace, "doomed");
    await eventually("the pod and ConfigMap to go", async () => {
      const pods = await runPods(namespace, "doomed");
      return pods.length === 0 && (await runMaps(namespace, "doomed")).length === 0 ? true : undefined;
    }, 90_000);
  });
});

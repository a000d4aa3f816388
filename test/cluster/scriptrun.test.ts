// The controller on the real cluster: every behaviour case as a ScriptRun, run
// in the local runner image (the request in the pod's annotation); a request large enough for a
// ConfigMap; a restarted controller; a run deleted mid-run.
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync } from "node:child_process";
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

  it("refuses, with no pod, an integer JSON readers round, as kubectl sends it (the API refuses it before)", async () => {
    // Sent as text: client-node, a JavaScript client, would round it before the apiserver saw it.
    // 2^53 + 1, which the apiserver keeps exactly (beyond int64 it makes a float of it itself).
    const manifest = `{"apiVersion": "scriptrun.dev/v1alpha1", "kind": "ScriptRun", "metadata": {"name": "big-int", "namespace": "${namespace}"},`
      + ' "spec": {"script": "def main(n):\\n    return str(n)\\n", "args": [9007199254740993]}}';
    execFileSync("kubectl", ["create", "-f", "-"], { input: manifest, env: process.env });
    const run = await finished(namespace, "big-int", 20_000);
    assert.equal((run.status?.error as { type: string }).type, "invalid_input", JSON.stringify(run.status));
    assert.match((run.status?.error as { message: string }).message, /the integer 9007199254740993 would become 9007199254740992/);
    assert.equal((await runPods(namespace, "big-int")).length, 0);
  });

  it("hands the script a keyword argument named __proto__, as kubectl sends it", async () => {
    // A JavaScript reader that copies an object key by key drops this key with no error.
    const manifest = `{"apiVersion": "scriptrun.dev/v1alpha1", "kind": "ScriptRun", "metadata": {"name": "proto-key", "namespace": "${namespace}"},`
      + ' "spec": {"script": "def main(**kw):\\n    return sorted(kw.items())\\n", "kwargs": {"__proto__": {"a": 1}, "b": 2}}}';
    execFileSync("kubectl", ["create", "-f", "-"], { input: manifest, env: process.env });
    const run = await finished(namespace, "proto-key", 20_000);
    assert.equal(run.status?.phase, "Succeeded", JSON.stringify(run.status));
    assert.equal(JSON.stringify(run.status?.result), '[["__proto__",{"a":1}],["b",2]]');
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
    const first = await eventually("the survivor's pod", async () => (await runPods(namespace, "survivor"))[0]?.metadata?.uid);
    await stopController(controller, "SIGKILL");
    controller = startController(namespace);
    // Pods by uid, not by name or event: a pod made again has the same name, and its Created event
    // the same name too (derived from the run's uid and the pod's name), so only its uid tells it.
    // A pod made again runs the script again, for seconds: a look every 250 ms sees it.
    const uids = new Set([first]);
    const run = await eventually("the survivor to finish, noting each of its pods", async () => {
      for (const pod of await runPods(namespace, "survivor")) uids.add(pod.metadata?.uid ?? "");
      const now = await getRun(namespace, "survivor");
      return ["Succeeded", "Failed"].includes(now.status?.phase ?? "") ? now : undefined;
    }, 120_000);
    assert.equal(run.status?.phase, "Succeeded");
    assert.equal(run.status?.result, "once");
    assert.deepEqual([...uids], [first], "the survivor ran in one pod");
    const events = await core.listNamespacedEvent({ namespace, fieldSelector: "involvedObject.name=survivor" });
    assert.deepEqual(events.items.filter((e) => e.reason === "Created").map((e) => e.message), [`Created pod survivor-runner`]);
  });

  it("runs a request too large for the pod's annotation from its ConfigMap, and removes both when done", async () => {
    const script = `${LARGE_COMMENT}import time\ndef main():\n    time.sleep(3)\n    return 'carried'\n`;
    await createRun(namespace, "large", { script });
    // The run sleeps so that it is seen running: its ConfigMap is there then, carrying its script.
    await eventually("the large run to run", async () =>
      ((await getRun(namespace, "large")).status?.phase === "Running" ? true : undefined));
    const maps = await runMaps(namespace, "large");
    assert.equal(maps.length, 1, "its request came in a ConfigMap");
    assert.equal(JSON.parse(maps[0]?.data?.["request.json"] ?? "{}").script, script);
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

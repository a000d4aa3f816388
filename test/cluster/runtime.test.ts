// ScriptRuntimes on the real cluster: the two runtimes `make up` installs (python, and
// python-datascience with scikit-learn), a namespaceSelector, a runtime changed while runs wait for
// it, an image that cannot be pulled, and two defaults at once. Runtimes are cluster-scoped: the
// ones made here carry the test namespace in their names and are deleted after.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { RUNTIMES } from "../../core/runtimeCatalog.js";
import { DEFAULT_RUNTIME_ANNOTATION, type ScriptRuntime } from "../../crds/runtime.js";
import { createRun, finished, getRun, startController, stopController } from "./controller.js";
import { core, createNamespace, custom, deleteNamespace, eventually } from "./kube.js";

const SKLEARN = "from sklearn.linear_model import LinearRegression\n\n" +
  "def main():\n    model = LinearRegression().fit([[0], [1], [2]], [1, 3, 5])\n    return round(float(model.coef_[0]), 6)\n";
const IMAGE = "localhost/scriptrun/runner:test";

type RunError = { type: string; message: string; suggestions?: string[] };
const errorOf = (run: { status?: Record<string, unknown> }) => run.status?.error as RunError | undefined;
const runPods = async (namespace: string, run: string) =>
  (await core.listNamespacedPod({ namespace, labelSelector: `scriptrun.dev/run=${run}` })).items;
const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

async function createRuntime(name: string, spec: Record<string, unknown>, annotations: Record<string, string> = {}): Promise<void> {
  await custom.createClusterCustomObject({
    ...RUNTIMES, body: { apiVersion: "scriptrun.dev/v1alpha1", kind: "ScriptRuntime", metadata: { name, annotations }, spec },
  });
}

const getRuntime = async (name: string) => (await custom.getClusterCustomObject({ ...RUNTIMES, name })) as ScriptRuntime;
const patchRuntime = (name: string, body: Record<string, unknown>) => custom.patchClusterCustomObject({ ...RUNTIMES, name, body }, merge);
const condition = (runtime: ScriptRuntime, type: string) => runtime.status?.conditions?.find((c) => c.type === type);

describe("ScriptRuntimes on the real cluster", function () {
  let namespace: string;
  let controller: ChildProcess;
  const made: string[] = [];
  const runtime = (suffix: string) => {
    const name = `${namespace}-${suffix}`;
    made.push(name);
    return name;
  };

  before(async () => {
    namespace = await createNamespace("srt");
    // One run at a time, so that a run can be made to wait behind another.
    controller = startController(namespace, { SCRIPTRUN_MAX_CONCURRENT_RUNS: "1" });
  });
  after(async () => {
    await stopController(controller);
    for (const name of made) await custom.deleteClusterCustomObject({ ...RUNTIMES, name }).catch(() => undefined);
    await deleteNamespace(namespace);
  });

  it("fits a scikit-learn model on python-datascience, and points the same script on python to it", async () => {
    await createRun(namespace, "fit", { script: SKLEARN, runtime: "python-datascience" });
    await createRun(namespace, "fit-on-python", { script: SKLEARN });
    const fit = await finished(namespace, "fit");
    assert.equal(fit.status?.phase, "Succeeded", JSON.stringify(fit.status));
    assert.equal(fit.status?.result, 2);
    assert.deepEqual(fit.status?.runtime, { name: "python-datascience", image: "localhost/scriptrun/runner-datascience:test" });
    const elsewhere = await finished(namespace, "fit-on-python");
    assert.equal(errorOf(elsewhere)?.type, "runtime_error");
    assert.match(errorOf(elsewhere)!.message, /ModuleNotFoundError: No module named 'sklearn'/);
    assert.ok(errorOf(elsewhere)!.suggestions?.some((s) => s.includes('"python-datascience"')), JSON.stringify(errorOf(elsewhere)));
    assert.deepEqual(elsewhere.status?.runtime, { name: "python", image: IMAGE });
  });

  it("refuses a runtime the namespace may not use, before any pod, until the namespace is labelled", async () => {
    const name = runtime("team");
    await createRuntime(name, { image: IMAGE, namespaceSelector: { matchLabels: { "scriptrun.dev/team": "data" } } });
    await createRun(namespace, "outsider", { script: "def main():\n    return 1\n", runtime: name });
    const refused = await finished(namespace, "outsider");
    assert.equal(errorOf(refused)?.type, "invalid_input");
    assert.match(errorOf(refused)!.message, new RegExp(`runtime "${name}" may not be used in namespace "${namespace}"`));
    assert.equal((await runPods(namespace, "outsider")).length, 0);
    await core.patchNamespace({ name: namespace, body: { metadata: { labels: { "scriptrun.dev/team": "data" } } } }, merge);
    await createRun(namespace, "member", { script: "def main():\n    return 1\n", runtime: name });
    const member = await finished(namespace, "member");
    assert.equal(member.status?.phase, "Succeeded", JSON.stringify(member.status));
  });

  it("refuses a runtime that does not exist, naming it, before any pod", async () => {
    await createRun(namespace, "nowhere", { script: "def main():\n    return 1\n", runtime: `${namespace}-nowhere` });
    const run = await finished(namespace, "nowhere");
    assert.equal(errorOf(run)?.type, "invalid_input");
    assert.match(errorOf(run)!.message, new RegExp(`runtime "${namespace}-nowhere" does not exist; the runtimes this namespace may use are: .*python-datascience`));
    assert.equal(run.status?.podName, undefined);
  });

  it("starts a waiting run on the runtime as it is when it starts, and never changes a started one", async () => {
    const name = runtime("changing");
    await createRuntime(name, { image: IMAGE });
    // The first run holds the only slot while the runtime changes; the second waits Queued.
    await createRun(namespace, "started", { script: "import time\ndef main():\n    time.sleep(6)\n    return 1\n", runtime: name });
    await eventually("the first run to start", async () => ((await getRun(namespace, "started")).status?.podName ? true : undefined));
    await createRun(namespace, "waiting", { script: "def main():\n    return 1\n", runtime: name });
    await eventually("the second run to queue", async () => ((await getRun(namespace, "waiting")).status?.phase === "Queued" ? true : undefined));
    await patchRuntime(name, { spec: { requireObjectResult: true } });
    const started = await finished(namespace, "started");
    assert.equal(started.status?.phase, "Succeeded", "the change reached a run already started");
    const waiting = await finished(namespace, "waiting");
    assert.equal(errorOf(waiting)?.type, "invalid_result", "the waiting run did not get the change");
    assert.match(errorOf(waiting)!.message, /requires the entrypoint to return a JSON object/);
  });

  it("fails runs on an image that cannot be pulled with infrastructure_error naming it, and says so on the runtime", async () => {
    const name = runtime("missing-image");
    const image = "localhost/scriptrun/no-such-runner:0";
    await createRuntime(name, { image, imagePullPolicy: "Never" });
    await createRun(namespace, "no-image", { script: "def main():\n    return 1\n", runtime: name });
    const run = await finished(namespace, "no-image", 60_000);
    assert.equal(errorOf(run)?.type, "infrastructure_error");
    assert.ok(errorOf(run)!.message.includes(`image "${image}" of runtime "${name}"`), errorOf(run)!.message);
    const pulled = await eventually("the runtime to report its image", async () => {
      const c = condition(await getRuntime(name), "ImagePulled");
      return c?.status === "False" ? c : undefined;
    });
    assert.equal(pulled.reason, "ImagePullFailed");
    assert.ok(pulled.message?.includes(image), pulled.message);
    assert.equal(condition(await getRuntime(name), "Accepted")?.status, "True");
  });

  it("is refused by the CRD schema when malformed, with a message naming what is wrong", async () => {
    const refusal = async (spec: Record<string, unknown>) => {
      try {
        await createRuntime(runtime(`bad-${made.length}`), spec);
      } catch (err) {
        const body = (err as { body?: string }).body;
        return body ? (JSON.parse(body) as { message: string }).message : String(err);
      }
      assert.fail(`the apiserver took ${JSON.stringify(spec)}`);
    };
    assert.match(await refusal({ image: IMAGE, defaults: { memory: "4Gi" } }), /defaults.memory exceeds maxima.memory/);
    assert.match(await refusal({ image: IMAGE, maxima: { timeoutSeconds: 5 } }), /defaults.timeoutSeconds exceeds maxima.timeoutSeconds/);
    assert.match(await refusal({ image: IMAGE, pod: { seccompProfile: { type: "Localhost" } } }), /localhostProfile is set exactly when type is Localhost/);
    assert.match(await refusal({ image: IMAGE, warmPool: { size: 2 } }), /a warm pool of size > 0 lists its namespaces/);
    assert.match(await refusal({ defaults: { cpu: "500m" } }), /spec.image: Required value/);
  });

  it("reports two defaults on the runtimes and refuses runs that name none until one remains", async () => {
    const name = runtime("second-default");
    await createRuntime(name, { image: IMAGE }, { [DEFAULT_RUNTIME_ANNOTATION]: "true" });
    try {
      const conflict = await eventually("python to report the second default", async () => {
        const c = condition(await getRuntime("python"), "Default");
        return c?.reason === "MultipleDefaults" ? c : undefined;
      });
      assert.equal(conflict.status, "False");
      assert.ok(conflict.message?.includes(name), conflict.message);
      await createRun(namespace, "which-default", { script: "def main():\n    return 1\n" });
      const refused = await finished(namespace, "which-default");
      assert.equal(errorOf(refused)?.type, "invalid_input");
      assert.match(errorOf(refused)!.message, /are all annotated scriptrun.dev\/is-default-runtime/);
      // The keeper writes each runtime's status, then its event, one runtime after another: the
      // refused run may finish before this runtime's turn comes.
      await eventually("the MultipleDefaults event on the second default", async () => {
        const events = await core.listEventForAllNamespaces({ fieldSelector: `involvedObject.kind=ScriptRuntime,involvedObject.name=${name}` });
        if (events.items.some((e) => e.reason === "MultipleDefaults")) return true;
        // Thrown, the reasons seen so far end up in the timeout's message.
        throw new Error(`events so far: ${JSON.stringify(events.items.map((e) => e.reason))}`);
      });
    } finally {
      await custom.deleteClusterCustomObject({ ...RUNTIMES, name });
    }
    await eventually("python to be the one default again", async () =>
      (condition(await getRuntime("python"), "Default")?.status === "True" ? true : undefined));
  });
});

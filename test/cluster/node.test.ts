// The local cluster is a real one: the node is Ready, a pod runs a locally built
// image, and its log and termination message come back through the apiserver.
import assert from "node:assert/strict";
import { RUNNER_IMAGE, core, createNamespace, deleteNamespace, eventually } from "./kube.js";

describe("the cluster", () => {
  let namespace: string;
  before(async () => {
    namespace = await createNamespace("node");
  });
  after(async () => deleteNamespace(namespace));

  it("has a Ready node", async () => {
    const nodes = await core.listNode();
    const ready = nodes.items.filter((n) =>
      n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
    assert.ok(ready.length >= 1, `no Ready node among ${nodes.items.map((n) => n.metadata?.name).join(", ")}`);
  });

  it("runs a pod from a locally built image and returns its log and termination message", async () => {
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: "probe" },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          containers: [{
            name: "probe",
            image: RUNNER_IMAGE,
            imagePullPolicy: "IfNotPresent",
            command: ["python3", "-c",
              "print('hello from the node'); open('/dev/termination-log', 'w').write('done')"],
          }],
        },
      },
    });
    const pod = await eventually("the probe pod to finish", async () => {
      const p = await core.readNamespacedPod({ name: "probe", namespace });
      return ["Succeeded", "Failed"].includes(p.status?.phase ?? "") ? p : undefined;
    }, 120_000);
    assert.equal(pod.status?.phase, "Succeeded");
    const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(terminated?.message, "done");
    const log = await core.readNamespacedPodLog({ name: "probe", namespace, container: "probe" });
    assert.equal(log, "hello from the node\n");
  });
});

// The local cluster is a real one: the node is Ready, a pod runs a locally built
// image, and its log and termination message come back through the apiserver.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
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

  it("runs a pod from a locally built image, with its harness compiled, and returns its log and termination message", async () => {
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
            // Also: the harness imports from the .pyc the image ships (cluster/build-image.sh PYC),
            // which the runner's uid could not write here.
            command: ["python3", "-c", "import os, sys; sys.path.insert(0, '/opt/scriptrun'); import runner, inner; " +
              "print('hello from the node'); print('harness compiled:', all(os.path.exists(m.__cached__) for m in (runner, inner))); " +
              "open('/dev/termination-log', 'w').write('done')"],
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
    assert.equal(log, "hello from the node\nharness compiled: True\n");
  });

  it("keeps traffic for its Service and pod addresses on this machine", function () {
    // The local cluster only (another cluster's network is its own business). A Service with no
    // ready endpoint once sent the e2e test's request out of the default route, where some other
    // server answered 404; the guard rejects what kube-proxy did not translate.
    if (process.env.KUBECONFIG !== "/var/lib/scriptrun-cluster/admin.kubeconfig") this.skip();
    const rules = execFileSync("iptables", ["-S"], { encoding: "utf8" }).split("\n");
    for (const chain of ["OUTPUT", "FORWARD"]) assert.ok(rules.includes(`-A ${chain} -j SCRIPTRUN-GUARD`), `no guard on ${chain}`);
    assert.ok(rules.includes("-A SCRIPTRUN-GUARD -d 10.96.0.0/16 -j REJECT --reject-with icmp-net-unreachable"), rules.join("\n"));
    assert.ok(rules.includes("-A SCRIPTRUN-GUARD -d 10.88.0.0/16 ! -o cni0 -m addrtype ! --dst-type LOCAL -j REJECT --reject-with icmp-net-unreachable"), rules.join("\n"));
  });
});

import assert from "node:assert/strict";
import { resolveRequest } from "../core/request.js";
import { runtimeLimits } from "../core/runtime.js";
import { MANAGED_SELECTOR } from "../operator/names.js";
import { buildPod } from "../operator/podSpec.js";
import { aParsedRuntime, aRun, testConfig } from "../operator/testkit.js";
import { BARE_COMMAND, barePod } from "./churn.js";
import { WORKLOADS } from "./workload.js";

const config = testConfig();
const runtime = aParsedRuntime("python", { pod: { cpuRequest: "100m" } });

/** The controller's pod for a run of the hello script, as the throughput phase's runs get it. */
function coldPod() {
  const run = aRun("hello", { script: WORKLOADS.hello.script }, { namespace: "bench-x" });
  const resolved = resolveRequest(run.spec, runtimeLimits(runtime, config.maxScriptBytes));
  assert.ok(resolved.ok);
  return buildPod(run, resolved.request, runtime, config);
}

describe("the bare pod the node churns", () => {
  it("is the controller's cold runner pod, running print('hi') instead of the harness on a request", () => {
    const cold = coldPod().spec!;
    const bare = barePod("bare-1", { namespace: "bench-x", runtime, config }).spec!;
    const [c, b] = [cold.containers[0]!, bare.containers[0]!];
    assert.deepEqual(b.command, BARE_COMMAND);
    assert.deepEqual([b.image, b.resources, b.securityContext], [c.image, c.resources, c.securityContext]);
    assert.deepEqual([bare.securityContext, bare.activeDeadlineSeconds, bare.automountServiceAccountToken, bare.restartPolicy],
      [cold.securityContext, cold.activeDeadlineSeconds, cold.automountServiceAccountToken, cold.restartPolicy]);
    // No request, so no request volume to mount; the private /tmp stays.
    assert.deepEqual(cold.volumes?.map((v) => v.name), ["request", "tmp"]);
    assert.deepEqual(bare.volumes?.map((v) => v.name), ["tmp"]);
    assert.deepEqual(b.volumeMounts?.map((m) => m.mountPath), ["/tmp"]);
  });

  it("is nobody's: no owner, and not a pod the controller's informers select", () => {
    const pod = barePod("bare-1", { namespace: "bench-x", runtime, config });
    assert.equal(pod.metadata?.ownerReferences, undefined);
    const [key, value] = MANAGED_SELECTOR.split("=");
    assert.notEqual(pod.metadata?.labels?.[key!], value);
    assert.deepEqual([pod.metadata?.name, pod.metadata?.namespace], ["bare-1", "bench-x"]);
  });
});

import assert from "node:assert/strict";
import type { V1Toleration } from "@kubernetes/client-node";
import { parseQuantity } from "../../core/quantity.js";
import { resolveRequest } from "../../core/request.js";
import { parseRuntime, runtimeLimits } from "../../core/runtime.js";
import { buildPod } from "../../operator/podSpec.js";
import { aParsedRuntime, aRun, aRuntime, testConfig } from "../../operator/testkit.js";
import { WORKLOADS } from "../workload.js";
import { PODS_PER_NODE, SCALE_NODE_LABEL, SCALE_NODE_SELECTOR, SCALE_TAINT, fakeNode, fakeNodeNames, scaleRuntime } from "./fakeNodes.js";

const config = testConfig();

/** The runner pod the controller makes for a hello run on `runtime`. */
function runnerPod(runtime = aParsedRuntime()) {
  const run = aRun("r", { script: WORKLOADS.hello.script });
  const request = resolveRequest(run.spec, runtimeLimits(runtime, config.maxScriptBytes));
  assert.ok(request.ok);
  return buildPod(run, request.request, runtime, config);
}

/** Whether a pod with these tolerations may be scheduled onto a node with the scale taint. */
const tolerates = (tolerations: V1Toleration[] | undefined) => (tolerations ?? []).some((t) =>
  (t.operator === "Exists" ? t.key === undefined || t.key === SCALE_TAINT.key : t.key === SCALE_TAINT.key && t.value === SCALE_TAINT.value) &&
  (t.effect === undefined || t.effect === SCALE_TAINT.effect));

const scaleParsed = () => {
  const parsed = parseRuntime(scaleRuntime("scale-x", "scale-x", aRuntime("python").spec));
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return parsed.runtime;
};

describe("the fake nodes of make scale", () => {
  it("are named apart and sort after the real node", () => {
    const names = fakeNodeNames(100);
    assert.equal(new Set(names).size, 100);
    assert.ok(names.every((n) => n > "scriptrun-node"), "code that takes the first node listed gets the real one");
  });

  it("are labelled for kwok's selector and tainted against every pod but the scale runtime's", () => {
    const node = fakeNode("scriptrun-scale-000");
    assert.equal(SCALE_NODE_SELECTOR, `${SCALE_NODE_LABEL}=true`);
    assert.equal(node.metadata?.labels?.[SCALE_NODE_LABEL], "true");
    assert.deepEqual(node.spec?.taints, [SCALE_TAINT]);
    assert.equal(tolerates(runnerPod().spec?.tolerations), false, "a pod of the default runtime stays off them");
    assert.equal(tolerates(runnerPod(scaleParsed()).spec?.tolerations), true);
  });

  it("each fit as many runner pods as a kubelet allows, by their requests", () => {
    const allocatable = fakeNode("n").status!.allocatable!;
    const requests = runnerPod(scaleParsed()).spec!.containers[0]!.resources!.requests!;
    assert.equal(Number(allocatable.pods), PODS_PER_NODE);
    for (const resource of ["cpu", "memory"]) {
      assert.ok(parseQuantity(requests[resource]!) * PODS_PER_NODE <= parseQuantity(allocatable[resource]!), resource);
    }
  });
});

describe("the runtime of make scale", () => {
  it("places its pods on the fake nodes, keeps the base runtime's image and limits, and has no warm pool", () => {
    const base = aRuntime("python", { warmPool: { size: 2, namespaces: ["default"] } }).spec;
    const runtime = scaleRuntime("scale-x", "scale-x", base);
    assert.equal(runtime.spec.image, base.image);
    assert.deepEqual(runtime.spec.defaults, base.defaults);
    assert.equal(runtime.spec.warmPool, undefined);
    assert.deepEqual(runnerPod(scaleParsed()).spec?.nodeSelector, { [SCALE_NODE_LABEL]: "true" });
  });

  it("is usable from its namespace only", () => {
    const runtime = scaleRuntime("scale-x", "scale-abc", aRuntime("python").spec);
    assert.deepEqual(runtime.spec.namespaceSelector, { matchLabels: { "kubernetes.io/metadata.name": "scale-abc" } });
  });
});

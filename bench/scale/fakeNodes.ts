// The objects of `make scale`'s simulated cluster: the fake Nodes kwok plays the kubelet of, and the
// ScriptRuntime whose runner pods go there and nowhere else. Pure: names and specs only.
import type { V1Node } from "@kubernetes/client-node";
import { RUNTIME_KIND, type ScriptRuntime } from "../../crds/runtime.js";
import { API_VERSION } from "../../crds/schema.js";

/** The label that marks a fake node: kwok manages exactly these, the scale runtime selects them. */
export const SCALE_NODE_LABEL = "scriptrun.dev/scale-node";
/** Keeps every other pod off the fake nodes (nothing runs there), the real node's tests' above all. */
export const SCALE_TAINT = { key: SCALE_NODE_LABEL, value: "true", effect: "NoSchedule" } as const;
/** A kubelet's default pod limit. */
export const PODS_PER_NODE = 110;
/** What a fake node offers: room for PODS_PER_NODE runner pods at their requests (100m CPU, 320 MiB
 * with the default runtime's memory and headroom), so the pod limit is what fills a node. */
const ALLOCATABLE = { cpu: "16", memory: "64Gi", pods: String(PODS_PER_NODE), "ephemeral-storage": "100Gi" };

/** Sorted after the real node (scriptrun-node), so code that takes the first node still gets it. */
export function fakeNodeNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `scriptrun-scale-${String(i).padStart(3, "0")}`);
}

export function fakeNode(name: string): V1Node {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: { [SCALE_NODE_LABEL]: "true", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64" },
    },
    spec: { taints: [{ ...SCALE_TAINT }] },
    // A kubelet registers its node with its capacity; kwok's Stage then makes it Ready.
    status: { capacity: { ...ALLOCATABLE }, allocatable: { ...ALLOCATABLE } },
  };
}

/** The label selector of the fake nodes, for kwok and for listing or deleting them. */
export const SCALE_NODE_SELECTOR = `${SCALE_NODE_LABEL}=true`;

/** A runtime like `base` (image, limits) whose pods are placed on the fake nodes only, usable from
 * `namespace` only, with no warm pool: kwok plays no container, so it cannot serve pods/attach. */
export function scaleRuntime(name: string, namespace: string, base: ScriptRuntime["spec"]): ScriptRuntime {
  const { warmPool: _noPool, namespaceSelector: _anyNamespace, pod, ...spec } = base;
  return {
    apiVersion: API_VERSION,
    kind: RUNTIME_KIND,
    metadata: { name, labels: { "scriptrun.dev/scale": namespace } },
    spec: {
      ...spec,
      pod: {
        ...pod,
        nodeSelector: { [SCALE_NODE_LABEL]: "true" },
        tolerations: [{ key: SCALE_TAINT.key, operator: "Equal", value: SCALE_TAINT.value, effect: SCALE_TAINT.effect }],
      },
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } },
    },
  };
}

// Warm pods, pure: what a runtime's pool pod is, which pods are ready to be claimed by which run,
// the one optimistic write that claims one, and the frame a request travels in. A pool pod is a
// runner pod started before its run (runner.py --warm), owned by its ScriptRuntime until a run
// claims it; the claim moves the owner to the run, so from then on it is that run's pod like any
// other (and garbage-collected with it).
import { createHash } from "node:crypto";
import type { V1OwnerReference, V1Pod } from "@kubernetes/client-node";
import { parseQuantity } from "../core/quantity.js";
import type { RunnerRequest } from "../core/request.js";
import type { Runtime } from "../core/runtime.js";
import { toMillis } from "../core/time.js";
import { RUNTIME_KIND } from "../crds/runtime.js";
import { API_VERSION, KIND, type ScriptRun } from "../crds/schema.js";
import { MANAGED_BY, MANAGED_BY_LABEL, RUN_LABEL, RUNNER_CONTAINER, runLabelValue } from "./names.js";
import { type PodSettings, runtimeAnnotations, warmPodSpec } from "./podSpec.js";

/** On a pool pod until it is claimed: the runtime whose pool it is in. */
export const POOL_LABEL = "scriptrun.dev/warm-pool";
/** A digest of the pod a runtime's pool pod should be: one of another digest is outdated. */
export const TEMPLATE_LABEL = "scriptrun.dev/warm-template";
/** On a claimed pod: how its run started. */
export const START_ANNOTATION = "scriptrun.dev/start";
/** On a claimed pod: when the claim was made, which is when its run started (its container
 * started long before, for whichever run would come). */
export const CLAIMED_AT_ANNOTATION = "scriptrun.dev/claimed-at";

export interface PoolPod {
  pod: V1Pod;
  name: string;
  /** Running, its runner waiting, not being deleted, and of the runtime's current template. */
  ready: boolean;
  /** Ended, failed, evicted or outdated: to be deleted. */
  stale: boolean;
}

/** The pool pod of `runtime` as it is now, and the digest that tells an outdated one. */
export function poolPod(runtime: Runtime, namespace: string, uid: string, settings: PodSettings): V1Pod {
  const spec = warmPodSpec(runtime, settings);
  const annotations = runtimeAnnotations(runtime);
  const template = createHash("sha256").update(JSON.stringify({ spec, annotations })).digest("hex").slice(0, 16);
  const owner: V1OwnerReference = { apiVersion: API_VERSION, kind: RUNTIME_KIND, name: runtime.name, uid, controller: true };
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      // The apiserver adds a random suffix: pool pods are interchangeable until claimed.
      generateName: `${runtime.name.slice(0, 40)}-warm-`,
      namespace,
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY, "app.kubernetes.io/name": "scriptrun-runner",
        [POOL_LABEL]: runtime.name, [TEMPLATE_LABEL]: template,
      },
      annotations,
      ownerReferences: [owner],
    },
    spec,
  };
}

export const templateOf = (pod: V1Pod) => pod.metadata?.labels?.[TEMPLATE_LABEL];

/** The pod's containers have ended (phase Succeeded or Failed). */
export const podFinished = (pod: V1Pod) => ["Succeeded", "Failed"].includes(pod.status?.phase ?? "");

/** The runner container's status, as the kubelet last reported it. */
export const runnerStatus = (pod: V1Pod) => pod.status?.containerStatuses?.find((c) => c.name === RUNNER_CONTAINER);

/** The runner container has ended: the kubelet calls the pod Succeeded or Failed a moment later. */
export const runnerEnded = (pod: V1Pod) => runnerStatus(pod)?.state?.terminated !== undefined;

/** The pod will run nothing more: it finished, or it is being deleted. */
export const podEnded = (pod: V1Pod) => podFinished(pod) || pod.metadata?.deletionTimestamp !== undefined;

/** How a pool pod of the current `template` stands. */
export function poolPodState(pod: V1Pod, template: string): PoolPod {
  const container = runnerStatus(pod);
  const ended = podFinished(pod) || container?.state?.terminated !== undefined;
  const outdated = templateOf(pod) !== template;
  const deleting = pod.metadata?.deletionTimestamp !== undefined;
  return {
    pod,
    name: pod.metadata?.name ?? "",
    ready: !ended && !outdated && !deleting && pod.status?.phase === "Running" && container?.state?.running !== undefined,
    stale: !deleting && (ended || outdated),
  };
}

/** How many warm pods the runtime keeps ready in `namespace`: none where its warmPool does not list it. */
export function poolSizeIn(runtime: Runtime, namespace: string): number {
  const { warmPool } = runtime.spec;
  return warmPool?.namespaces?.includes(namespace) ? warmPool.size ?? 0 : 0;
}

/** Whether a run of `request` can be served by `runtime`'s pool: its pods have the runtime's
 * default CPU and memory, and bound the rest by the runtime's maxima. */
export function poolServes(runtime: Runtime, request: RunnerRequest): boolean {
  const { defaults } = runtime.spec;
  return parseQuantity(request.resources.cpu) === parseQuantity(defaults.cpu)
    && parseQuantity(request.resources.memory) === parseQuantity(defaults.memory);
}

/**
 * The one write that claims a pool pod for `run`: a merge patch carrying the resourceVersion the
 * controller saw, so the apiserver refuses it (409) if anyone changed the pod since: a pod is never
 * claimed twice. It takes the pod out of the pool, hands its ownership to the run, and sets the
 * deadline a cold pod of the run would have (counted, as the kubelet does, from the pod's start).
 */
export function claimPatch(pod: V1Pod, run: ScriptRun, request: RunnerRequest, graceSeconds: number, now: number): Record<string, unknown> {
  const { name = "", uid = "" } = run.metadata;
  const startedMs = toMillis(pod.status?.startTime) ?? toMillis(pod.metadata?.creationTimestamp) ?? now;
  const ageSeconds = Math.max(0, Math.ceil((now - startedMs) / 1000));
  return {
    metadata: {
      resourceVersion: pod.metadata?.resourceVersion,
      labels: { [POOL_LABEL]: null, [TEMPLATE_LABEL]: null, [RUN_LABEL]: runLabelValue(name) },
      annotations: { [START_ANNOTATION]: "warm", [CLAIMED_AT_ANNOTATION]: new Date(now).toISOString() },
      ownerReferences: [{ apiVersion: API_VERSION, kind: KIND, name, uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: { activeDeadlineSeconds: ageSeconds + request.timeoutSeconds + graceSeconds },
  };
}

export const startedWarm = (pod: V1Pod) => pod.metadata?.annotations?.[START_ANNOTATION] === "warm";
export const claimedAt = (pod: V1Pod) => toMillis(pod.metadata?.annotations?.[CLAIMED_AT_ANNOTATION]);

/** The request as the warm runner reads it: one line, its JSON's SHA-256 first, so that a cut
 * or garbled request is never run. */
export function requestFrame(request: RunnerRequest): string {
  const json = JSON.stringify(request);
  return `${createHash("sha256").update(json).digest("hex")} ${json}\n`;
}

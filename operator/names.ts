// Deterministic names and labels of what the controller creates for a run, and the work queue
// key of a run. The same run always maps to the same pod name, so a restarted controller finds
// the pod it made instead of making a second one.
import { createHash } from "node:crypto";
import type { KubernetesObject } from "@kubernetes/client-node";
import { runKey } from "../core/runs.js";
import { KIND } from "../crds/schema.js";

export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY = "scriptrun-operator";
export const RUN_LABEL = "scriptrun.dev/run";
export { RUNNER_CONTAINER } from "../core/liveOutput.js";
/** Label selector of every pod the controller owns. */
export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;

// Pod names longer than a DNS label make truncated hostnames; label values stop at 63 too.
const MAX_NAME = 63;

/** `base + suffix` when it fits in 63 characters, else a cut base with a hash of the whole. */
export function childName(base: string, suffix: string): string {
  if (base.length + suffix.length <= MAX_NAME) return base + suffix;
  const hash = createHash("sha256").update(base).digest("hex").slice(0, 8);
  const cut = base.slice(0, MAX_NAME - suffix.length - hash.length - 1).replace(/[-.]+$/, "");
  return `${cut}-${hash}${suffix}`;
}

export function podNameFor(runName: string): string {
  return childName(runName, "-runner");
}

export function configMapNameFor(runName: string): string {
  return childName(runName, "-request");
}

/** The run label's value: the run's name, or a cut with a hash when longer than a label value may be. */
export function runLabelValue(runName: string): string {
  return childName(runName, "");
}

/** The key of the ScriptRun that owns a pod, from its controller owner reference. */
export function ownerRunKey(pod: KubernetesObject): string | undefined {
  const owner = pod.metadata?.ownerReferences?.find((ref) => ref.kind === KIND && ref.controller === true);
  if (!owner || !pod.metadata?.namespace) return undefined;
  return runKey(pod.metadata.namespace, owner.name);
}

/** The uid of the ScriptRun that owns a pod, to tell a new run's pod from an old one of the same name. */
export function ownerRunUid(pod: KubernetesObject): string | undefined {
  return pod.metadata?.ownerReferences?.find((ref) => ref.kind === KIND && ref.controller === true)?.uid;
}

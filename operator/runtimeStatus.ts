// The status a ScriptRuntime should have, built whole from what the controller knows: whether its
// spec is usable (Accepted), whether it is the one default (Default, only on runtimes annotated
// default), and whether its image started the last time a run used it (ImagePulled). Pure; the
// keeper (runtimeKeeper.ts) writes it when it changed.
import { isDefault, parseRuntime } from "../core/runtime.js";
import { isoTime } from "../core/time.js";
import { DEFAULT_RUNTIME_ANNOTATION, type ScriptRuntime, type ScriptRuntimeStatus, type WarmPoolStatus } from "../crds/runtime.js";
import type { Condition } from "../crds/schema.js";

/** What the last run on a runtime told of its image. */
export interface PullObservation {
  image: string;
  ok: boolean;
  message: string;
}

type ConditionUpdate = Pick<Condition, "type" | "status" | "reason" | "message">;

function conditions(runtime: ScriptRuntime, all: readonly ScriptRuntime[], pull: PullObservation | undefined): ConditionUpdate[] {
  const generation = runtime.metadata.generation;
  const parsed = parseRuntime(runtime);
  const updates: ConditionUpdate[] = [parsed.ok
    ? { type: "Accepted", status: "True", reason: "Valid", message: "Runs may use this runtime" }
    : { type: "Accepted", status: "False", reason: "InvalidSpec", message: `Runs on this runtime are refused: ${parsed.problems.join("; ")}` }];
  if (isDefault(runtime)) {
    const others = all.filter((r) => isDefault(r) && r.metadata.name !== runtime.metadata.name).map((r) => r.metadata.name ?? "").sort();
    updates.push(others.length === 0
      ? { type: "Default", status: "True", reason: "Default", message: "Runs that name no runtime run on this one" }
      : {
        type: "Default", status: "False", reason: "MultipleDefaults",
        message: `${others.join(", ")} ${others.length === 1 ? "is" : "are"} annotated ${DEFAULT_RUNTIME_ANNOTATION} too: runs that name no runtime are refused until one default remains`,
      });
  }
  // An observation of another image says nothing of this one.
  if (pull && pull.image === runtime.spec.image) {
    updates.push(pull.ok
      ? { type: "ImagePulled", status: "True", reason: "Pulled", message: `A runner pod started from ${pull.image}` }
      : { type: "ImagePulled", status: "False", reason: "ImagePullFailed", message: pull.message });
  } else {
    // Nothing heard since this process started (a restarted controller): what was said of this
    // generation (so of this image) still holds.
    const said = runtime.status?.conditions?.find((c) => c.type === "ImagePulled");
    if (!pull && said && generation !== undefined && said.observedGeneration === generation) updates.push(said);
  }
  return updates;
}

/** `pools`: the runtime's warm pools as the pool keeper counts them. */
export function runtimeStatus(runtime: ScriptRuntime, all: readonly ScriptRuntime[], pull: PullObservation | undefined, now: number,
  pools: WarmPoolStatus[] = []): ScriptRuntimeStatus {
  const generation = runtime.metadata.generation;
  const previous = runtime.status?.conditions ?? [];
  const sum = (pick: (p: WarmPoolStatus) => number) => pools.reduce((total, p) => total + pick(p), 0);
  return {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    ...(pools.length > 0 ? { warm: `${sum((p) => p.ready)}/${sum((p) => p.desired)}`, warmPools: pools } : {}),
    conditions: conditions(runtime, all, pull).map((update) => {
      const before = previous.find((c) => c.type === update.type);
      const lastTransitionTime = before?.status === update.status ? before.lastTransitionTime : isoTime(now);
      return { ...update, lastTransitionTime, ...(generation !== undefined ? { observedGeneration: generation } : {}) };
    }),
  };
}

/** Whether two statuses say the same (timestamps aside, which follow the statuses); the
 * apiserver hands a status back with its keys in another order. */
export function sameStatus(a: ScriptRuntimeStatus | undefined, b: ScriptRuntimeStatus): boolean {
  const said = (s: ScriptRuntimeStatus | undefined) => JSON.stringify([s?.observedGeneration, s?.warm,
    (s?.warmPools ?? []).map((p) => [p.namespace, p.ready, p.desired]),
    (s?.conditions ?? []).map((c) => [c.type, c.status, c.reason, c.message, c.observedGeneration])]);
  return said(a) === said(b);
}

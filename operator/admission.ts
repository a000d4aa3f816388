// The cap on concurrent runs, global and per namespace. Runs that hold a slot are "active"; the
// others wait in creation order (creationTimestamp, then name, then namespace) and are admitted
// while both caps have room. A waiting run beyond the caps is Queued with its position.
import { runKey } from "../core/runs.js";
import { toMillis } from "../core/time.js";
import type { ScriptRun } from "../crds/schema.js";
import { isFinished } from "../crds/schema.js";
import { conditionOf } from "./runStatus.js";

export interface Caps {
  maxConcurrentRuns: number;
  maxConcurrentRunsPerNamespace: number;
}

/** What the controller knows of one run besides the object itself. */
export interface RunSlotFacts {
  run: ScriptRun;
  /** This process admitted the run and its pod may not be in the cache yet. */
  reserved: boolean;
  /** The run's pod as the cache has it: absent, still running, or done. */
  pod: "none" | "live" | "done";
}

export type Decision = { admit: true } | { admit: false; position: number };

export interface AdmissionPlan {
  /** Slots in use now. */
  held: number;
  /** Every waiting run's decision, by key (in queue order when some must wait). */
  decisions: Map<string, Decision>;
}

function holdsSlot({ run, reserved, pod }: RunSlotFacts): boolean {
  // A finished run whose pod is still running (about to be deleted) still uses the node.
  if (isFinished(run.status?.phase)) return pod === "live";
  return reserved || pod !== "none" || run.status?.podName !== undefined;
}

function isWaiting(facts: RunSlotFacts): boolean {
  const { run } = facts;
  return !isFinished(run.status?.phase) && !run.metadata.deletionTimestamp && !holdsSlot(facts)
    && conditionOf(run, "Accepted")?.status !== "False";
}

/** The waiting runs in queue order. Each creation time is read once: reading it at each
 * comparison made sorting thousands of waiting runs cost tens of milliseconds per plan. */
function inQueueOrder(waiting: ScriptRun[]): ScriptRun[] {
  return waiting.map((run) => ({ run, at: toMillis(run.metadata.creationTimestamp) ?? 0 }))
    .sort((a, b) => {
      if (a.at !== b.at) return a.at - b.at;
      const byName = (a.run.metadata.name ?? "").localeCompare(b.run.metadata.name ?? "");
      return byName !== 0 ? byName : (a.run.metadata.namespace ?? "").localeCompare(b.run.metadata.namespace ?? "");
    })
    .map(({ run }) => run);
}

/** Whether every waiting run fits within both caps beside those holding slots. */
function allFit(waiting: ScriptRun[], active: number, perNamespace: Map<string, number>, caps: Caps): boolean {
  if (active + waiting.length > caps.maxConcurrentRuns) return false;
  const wanted = new Map(perNamespace);
  for (const run of waiting) {
    const ns = run.metadata.namespace ?? "";
    const count = (wanted.get(ns) ?? 0) + 1;
    if (count > caps.maxConcurrentRunsPerNamespace) return false;
    wanted.set(ns, count);
  }
  return true;
}

export function planAdmission(runs: readonly RunSlotFacts[], caps: Caps): AdmissionPlan {
  let active = 0;
  const perNamespace = new Map<string, number>();
  for (const facts of runs) {
    if (!holdsSlot(facts)) continue;
    active++;
    const ns = facts.run.metadata.namespace ?? "";
    perNamespace.set(ns, (perNamespace.get(ns) ?? 0) + 1);
  }
  const held = active;
  const unordered = runs.filter(isWaiting).map((f) => f.run);
  // When all fit, the order decides nothing.
  const waiting = allFit(unordered, active, perNamespace, caps) ? unordered : inQueueOrder(unordered);
  const decisions = new Map<string, Decision>();
  let queued = 0;
  for (const run of waiting) {
    const ns = run.metadata.namespace ?? "";
    const key = runKey(ns, run.metadata.name ?? "");
    if (active < caps.maxConcurrentRuns && (perNamespace.get(ns) ?? 0) < caps.maxConcurrentRunsPerNamespace) {
      active++;
      perNamespace.set(ns, (perNamespace.get(ns) ?? 0) + 1);
      decisions.set(key, { admit: true });
    } else {
      decisions.set(key, { admit: false, position: ++queued });
    }
  }
  return { held, decisions };
}

// The concurrency slots as this controller holds them: admission.ts decides from what the cache
// shows; this adds what the cache may not show yet (runs admitted here whose pod is still being
// created), keeps the queue metrics, and wakes the runs a freed slot admits. A plan looks at every
// open run; while they all fit the caps, or none waits Queued, the decision is known without one.
import type { ScriptRun } from "../crds/schema.js";
import { type AdmissionPlan, type Caps, type Decision, type RunSlotFacts, planAdmission } from "./admission.js";
import type { Metrics } from "./metrics.js";
import type { OpenRuns } from "./openRuns.js";

/** A run as the cache and the status memo show it, with the state of its pod. */
export type SlotView = Omit<RunSlotFacts, "reserved"> & { key: string };

export class Slots {
  /** Runs this process admitted, whose pod or status the cache may not show yet. */
  private readonly reserved = new Map<string, { uid: string; at: number }>();

  constructor(private readonly caps: Caps, private readonly metrics: Pick<Metrics, "runsActive" | "runsQueued">,
    private readonly view: () => SlotView[], private readonly enqueue: (key: string) => void,
    private readonly open: Pick<OpenRuns, "anyQueued" | "atMost">) {}

  /** Whether a run in `namespace` is admitted: at once while every open run fits both caps. */
  admits(key: string, namespace: string): Decision {
    const { total, inNamespace } = this.open.atMost(namespace);
    if (total <= this.caps.maxConcurrentRuns && inNamespace <= this.caps.maxConcurrentRunsPerNamespace) return { admit: true };
    return this.plan().decisions.get(key) ?? { admit: false, position: 1 };
  }

  /** Takes a slot for an admitted run (call with no await since planning it). */
  reserve(key: string, run: ScriptRun, at: number): void {
    this.reserved.set(key, { uid: run.metadata.uid ?? "", at });
  }

  /** Gives the run's slot back; true when it held one. */
  release(key: string): boolean {
    return this.reserved.delete(key);
  }

  /** When this process reserved a slot for this very run (not an earlier one of the same name). */
  reservedAt(key: string, run: ScriptRun): number | undefined {
    const held = this.reserved.get(key);
    if (held && held.uid !== run.metadata.uid) {
      this.reserved.delete(key);
      return undefined;
    }
    return held?.at;
  }

  /** Who holds a slot and who waits, in order; updates the active and queued gauges. */
  plan(): AdmissionPlan {
    const facts: RunSlotFacts[] = this.view().map(({ key, run, pod }) =>
      ({ run, pod, reserved: this.reserved.get(key)?.uid === run.metadata.uid }));
    const plan = planAdmission(facts, this.caps);
    this.metrics.runsActive.set(plan.held);
    this.metrics.runsQueued.set([...plan.decisions.values()].filter((d) => !d.admit).length);
    return plan;
  }

  /** Queues the waiting runs a freed slot admits. The others learn their new queue position at the
   * next resync: rewriting every position each time a slot frees would cost a write per queued run.
   * With no run Queued there is none to wake: a run not yet told to wait is reconciled anyway when
   * the cache hears of it, or of its Queued status. */
  wake(): void {
    if (!this.open.anyQueued()) return;
    for (const [key, decision] of this.plan().decisions) if (decision.admit) this.enqueue(key);
  }
}

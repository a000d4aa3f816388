// How far a followed run has come, for those who tell its phases: the API's event stream
// (api/sse.ts) and the command line's watch (cli/events.ts). Their snapshots of the run can come
// out of order (a read that started before a watch event can answer after it), and resourceVersion
// is opaque, so snapshots are ordered by what they say: Pending, Queued, Pending again once its pod
// exists, Running, finished. A run skips the steps it does not need, and never goes back. Its place
// in the queue can rise (a run created in the same second with a name sorted first, a run whose pod
// could not be made going back ahead), so each place is told as it comes.
import type { Phase, ScriptRun } from "../crds/schema.js";

/** What a follower has told of the run so far. */
export interface Seen {
  phase?: Phase;
  /** Only while Queued. */
  queuePosition?: number;
  /** How far the run had come (stepOf). */
  step?: number;
}

/** A Pending run with a pod was admitted: past any Queued. */
function stepOf(phase: Phase, hasPod: boolean): number {
  switch (phase) {
    case "Pending":
      return hasPod ? 2 : 0;
    case "Queued":
      return 1;
    case "Running":
      return 3;
    default:
      return 4;
  }
}

/** What a snapshot of the run makes of what was seen: undefined when the snapshot is older than
 * that, else what is seen now and whether its phase or place in the queue is news. */
export function progressOf(seen: Seen, run: ScriptRun): { seen: Seen & { phase: Phase }; news: boolean } | undefined {
  const phase = run.status?.phase ?? "Pending";
  const step = stepOf(phase, run.status?.podName !== undefined);
  const queuePosition = phase === "Queued" ? run.status?.queuePosition : undefined;
  if (seen.step !== undefined && step < seen.step) return undefined;
  return {
    seen: { phase, step, ...(queuePosition !== undefined ? { queuePosition } : {}) },
    news: phase !== seen.phase || queuePosition !== seen.queuePosition,
  };
}

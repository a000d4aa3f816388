// A followed run's events, from the snapshots of it the cluster sends (kubeBackend.ts) or from the
// API's event stream (httpBackend.ts). Snapshots can come out of order (a re-read that started
// before a watch event ends after it), so a phase never goes back (core/runProgress.ts, as the
// API's stream), and the first finished one ends.
import { outcomeOf } from "../api/views.js";
import { type Seen, progressOf } from "../core/runProgress.js";
import { type Phase, type ScriptRun, isFinished } from "../crds/schema.js";
import type { Outcome, RunEvent } from "./backend.js";

/** The events a snapshot of the run (undefined: it is gone) adds to what was seen. */
export function eventsOf(seen: Seen, run: ScriptRun | undefined): { events: RunEvent[]; seen: Seen } {
  if (!run) return { events: [{ type: "deleted" }], seen };
  const next = progressOf(seen, run);
  if (!next) return { events: [], seen };
  const { phase, queuePosition } = next.seen;
  const events: RunEvent[] = [];
  if (next.news) events.push({ type: "phase", phase, ...(queuePosition !== undefined ? { queuePosition } : {}) });
  if (isFinished(phase)) events.push({ type: "finished", outcome: outcomeOf(run) });
  return { events, seen: next.seen };
}

/** One message of a Server-Sent Events stream as the API sends it. */
export interface SseMessage {
  event: string;
  data: string;
  id?: string;
}

/** The run event an API stream message carries; undefined for the stream's own (`timeout`) and
 * for events this client does not know, which a newer API may send. */
export function eventOfMessage(message: SseMessage): RunEvent | undefined {
  switch (message.event) {
    case "phase": {
      const data = JSON.parse(message.data) as { phase: Phase; queuePosition?: number };
      return { type: "phase", phase: data.phase, ...(data.queuePosition !== undefined ? { queuePosition: data.queuePosition } : {}) };
    }
    case "output": {
      const data = JSON.parse(message.data) as { stream: "stdout" | "stderr"; offset: number; text: string };
      return { type: "output", stream: data.stream, offset: data.offset, text: data.text };
    }
    case "finished":
      return { type: "finished", outcome: JSON.parse(message.data) as Outcome };
    case "deleted":
      return { type: "deleted" };
    default:
      return undefined;
  }
}

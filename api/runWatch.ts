// The shared watch of ScriptRuns as the waiter sees it: who is told of changes, and the watch
// itself (RunInformer on a cluster, an in-memory stand-in in tests).
import type { ScriptRun } from "../crds/schema.js";

/** Told of every ScriptRun change the shared watch sees. */
export interface RunListener {
  changed(run: ScriptRun): void;
  deleted(run: ScriptRun): void;
  /** The watch (re)started and may have missed events since it last ran: re-check what matters. */
  resynced(): void;
}

export interface RunWatch {
  /** Starts watching in the background, retrying until the cluster answers. */
  start(): void;
  stop(): Promise<void>;
  /** True once the watch has listed everything and is following changes. */
  readonly synced: boolean;
}

// Waiting for runs, for every request at once: one shared watch of ScriptRuns (RunStore.watch)
// feeds a map of watchers keyed by namespace/name, so a thousand waiting requests cost one watch.
// Waits and event streams each hold one of a capped number of slots (429 past the cap).
//
// A watch can miss changes: while it restarts, or when it stops silently (client-node's informers
// can, with no error and no events). So when the watch (re)starts every watched run is fetched again,
// and so is every run watched for longer than the re-check interval, at each interval in which the
// watch told nothing: a stuck watch delays an answer by one or two intervals, not until the wait
// runs out. A watch that told a change within the interval is running, and has told every change
// before that one (a watch tells changes in order): re-fetching then would only add load, a GET per
// waiting caller per interval, when the callers are many.
import type { Logger } from "../core/log.js";
import { keyOf, runKey } from "../core/runs.js";
import { type ScriptRun, isFinished } from "../crds/schema.js";
import { Admission } from "./admission.js";
import { Capacity } from "./capacity.js";
import { ApiError, RETRY_AFTER_SECONDS } from "./errors.js";
import { type From, OwnCopy } from "./ownCopy.js";
import type { RunStore } from "./runStore.js";
import type { RunListener, RunWatch } from "./runWatch.js";

/** Where news of a run came from, the watch or a re-check (ownCopy.ts); `gone`: the uid of the copy
 * whose deletion the watch told (a re-check that found no run has none). */
export type News = From & { gone?: string };

/** Told of each change of one run: the run, or undefined when it is gone. */
export type Watcher = (run: ScriptRun | undefined, from: News) => void;

export type WaitResult =
  | { kind: "finished"; run: ScriptRun }
  | { kind: "deleted" }
  | { kind: "timeout" }
  | { kind: "aborted" };

/** One wait. `exists()` tells it the run existed before the wait began (a retry found it), so that
 * its deletion ends the wait even if no change of the run came first. `follows(run)` tells it which
 * copy of the run is its own (the create's answer, or the run a retry found): only that copy's
 * outcome or deletion, or a later copy's once seen, ends it (ownCopy.ts). */
export interface Wait {
  result: Promise<WaitResult>;
  exists(): void;
  follows(run: ScriptRun): void;
}

export interface WaiterOptions {
  maxWaits: number;
  /** Runs watched longer than this are fetched again every this often. */
  recheckMs: number;
  /** Hold /execute calls on a full node (SCRIPTRUN_API_HOLD_WHEN_FULL). */
  holdWhenFull?: boolean;
  log: Logger;
}

interface Watched {
  /** When the first watcher of the run subscribed. */
  since: number;
  watchers: Set<Watcher>;
  /** When the watch last told news of the run (performance.now(), as Waiter.toldAt). */
  heardAt: number;
}

const shuttingDown = () => new ApiError(503, "shutting_down", "The API is shutting down; retry and another replica will answer",
  {}, { "Retry-After": String(RETRY_AFTER_SECONDS) });

// Re-checks go out this many at a time, not all at once.
const RECHECK_CONCURRENCY = 16;

export class Waiter implements RunListener {
  /** Load as the shared watch sees it, for refusing early what cannot finish in time. */
  readonly capacity = new Capacity();
  /** Which /execute calls get a run, and when (admission.ts). */
  readonly admission: Admission;
  private readonly watched = new Map<string, Watched>();
  private watch: RunWatch | undefined;
  private recheckTimer: NodeJS.Timeout | undefined;
  /** When the watch last told a change (performance.now(): a clock that never steps back). */
  private toldAt = 0;
  private active = 0;
  private closing = false;
  private onIdle: Array<() => void> = [];

  constructor(private readonly store: RunStore, private readonly options: WaiterOptions) {
    this.admission = new Admission(this, options.holdWhenFull ?? false);
  }

  start(): void {
    this.watch = this.store.watch(this);
    this.watch.start();
    this.recheckTimer = setInterval(() => {
      if (performance.now() - this.toldAt >= this.options.recheckMs) void this.recheck(Date.now() - this.options.recheckMs);
    }, this.options.recheckMs);
    this.recheckTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.recheckTimer);
    await this.watch?.stop();
  }

  /** True once the shared watch follows the cluster. */
  get synced(): boolean {
    return this.watch?.synced ?? false;
  }

  /** Waits and streams holding a slot now. */
  get inFlight(): number {
    return this.active;
  }

  get accepting(): boolean {
    return !this.closing;
  }

  /** Takes a slot for one wait or stream; the returned function gives it back (once). */
  reserve(): () => void {
    if (this.closing) throw shuttingDown();
    if (this.active >= this.options.maxWaits) {
      throw new ApiError(429, "too_many_waits", `${this.active} requests are already waiting for runs, the most this API allows; retry later`,
        {}, { "Retry-After": String(RETRY_AFTER_SECONDS) });
    }
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.admission.pump();
      if (this.active === 0) for (const resolve of this.onIdle.splice(0)) resolve();
    };
  }

  /** Calls `watcher` with every change of the run until the returned function is called. */
  subscribe(namespace: string, name: string, watcher: Watcher): () => void {
    const key = runKey(namespace, name);
    let entry = this.watched.get(key);
    if (!entry) this.watched.set(key, (entry = { since: Date.now(), watchers: new Set(), heardAt: 0 }));
    const { watchers } = entry;
    watchers.add(watcher);
    return () => {
      watchers.delete(watcher);
      if (watchers.size === 0 && this.watched.get(key)?.watchers === watchers) this.watched.delete(key);
    };
  }

  /** Waits until the run has finished or was deleted, `ms` ran out, or `signal` aborted.
   * Subscribes at once, so a run created after this call cannot finish unseen. */
  waitFor(namespace: string, name: string, ms: number, signal: AbortSignal): Wait {
    // A re-check may find no run before the caller has created it: only a run known to exist can vanish.
    let exists = false;
    const copies = new OwnCopy();
    let finish!: (outcome: WaitResult) => void;
    const result = new Promise<WaitResult>((resolve) => {
      finish = (outcome: WaitResult) => {
        unsubscribe();
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        resolve(outcome);
      };
      const onAbort = () => finish({ kind: "aborted" });
      const unsubscribe = this.subscribe(namespace, name, (run, from) => {
        if (run) {
          exists = true;
          copies.changed(run, from);
          // Only its own copy's outcome ends it. Before that copy is known, any outcome may be an
          // earlier copy's, told late: `follows` takes it if it is the copy's own (ownCopy.ts).
          if (isFinished(run.status?.phase) && copies.current && copies.follows(run)) finish({ kind: "finished", run });
        } else if ((from.gone === undefined || copies.deleted(from.gone)) && exists) {
          finish({ kind: "deleted" });
        }
      });
      const timer = setTimeout(() => finish({ kind: "timeout" }), ms);
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
    return {
      result,
      exists: () => { exists = true; },
      follows: (run) => {
        const gone = copies.follow(run);
        const outcome = copies.outcomeToldBefore();
        if (outcome) finish({ kind: "finished", run: outcome });
        else if (gone && exists) finish({ kind: "deleted" });
      },
    };
  }

  /** Stops taking new waits; resolves true once none is left, or false after `ms`. */
  drain(ms: number): Promise<boolean> {
    this.closing = true;
    this.admission.refuseAll(shuttingDown());
    if (this.active === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.onIdle.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  changed(run: ScriptRun): void {
    const key = keyOf(run);
    this.toldAt = performance.now();
    this.capacity.observe(key, run);
    this.admission.seen(key);
    this.admission.pump();
    this.hear(key);
    this.dispatch(key, run, { watched: true });
  }

  deleted(run: ScriptRun): void {
    const key = keyOf(run);
    this.toldAt = performance.now();
    this.capacity.observe(key, undefined);
    this.admission.pump();
    this.hear(key);
    this.dispatch(key, undefined, { watched: true, gone: run.metadata.uid ?? "" });
  }

  resynced(): void {
    void this.recheck(Infinity);
  }

  /** Notes when the watch told news of a watched run (for a re-check's answer). */
  private hear(key: string): void {
    const entry = this.watched.get(key);
    if (entry) entry.heardAt = this.toldAt;
  }

  private dispatch(key: string, run: ScriptRun | undefined, from: News): void {
    const entry = this.watched.get(key);
    if (!entry) return;
    for (const watcher of [...entry.watchers]) watcher(run, from);
  }

  /** Fetches again every run watched since before `before` and hands its watchers what the cluster has now. */
  private async recheck(before: number): Promise<void> {
    const keys = [...this.watched].filter(([, entry]) => entry.since < before).map(([key]) => key);
    const next = async (): Promise<void> => {
      for (let key = keys.shift(); key !== undefined; key = keys.shift()) {
        const slash = key.indexOf("/");
        try {
          const askedAt = performance.now();
          const run = await this.store.get(key.slice(0, slash), key.slice(slash + 1));
          // The watch told news of the run since the question: the answer "none" may be older than
          // that news (a run created meanwhile), and the watch, running, tells a deletion itself.
          if (!run && (this.watched.get(key)?.heardAt ?? 0) >= askedAt) continue;
          this.dispatch(key, run, { watched: false, askedAt });
        } catch (err) {
          this.options.log.warn({ run: key, err: String(err) }, "Failed to re-check a watched run after a resync");
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(RECHECK_CONCURRENCY, keys.length) }, next));
  }
}

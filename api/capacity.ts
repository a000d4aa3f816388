// What the shared watch says about load: how many runs have not finished, and how fast runs have
// been finishing lately. /execute refuses early (429 with Retry-After) a call whose wait could not
// cover the runs ahead of it, instead of answering 504 a minute later after creating a run that
// its caller, retrying, would then duplicate. The rate is runs finished per second of busy time (while
// some run was between its creation and its end), not per second of the clock: runs asked for a
// minute apart say nothing of how fast the node runs them. Without enough recent completions to
// know the rate, nothing is refused.
import { toMillis } from "../core/time.js";
import { type ScriptRun, isFinished } from "../crds/schema.js";

/** Completions that make a rate worth trusting, and how far back they count. */
const MIN_COMPLETIONS = 5;
const WINDOW_MS = 5 * 60_000;

/** What recent completions say of the node: runs finished per busy second, and runs under way. */
export interface Load {
  perSecond: number;
  concurrency: number;
}

interface Completion {
  /** When it was created and when it finished. */
  from: number;
  at: number;
  /** How long it waited from its creation to its script's start, when its status says. */
  waited?: number;
}

export class Capacity {
  /** Whether each run known to the watch has finished, by key. */
  private readonly finished = new Map<string, boolean>();
  private unfinished = 0;
  /** When runs unfinished at first sight were first seen, by key: their start, lacking a creation time. */
  private readonly firstSeen = new Map<string, number>();
  /** Runs seen finishing within the window, in the order they were created: when each was created
   * (`from`) and finished (`at`). In that order the busy time is one walk, with no sort at each
   * estimate (1 000 callers at once each ask for one). */
  private completions: Completion[] = [];
  /** What slowSeconds() and startWaitSeconds() say of the completions as they are, until they change. */
  private times: { slow: number; startWait: number | undefined } | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  /** A run as the watch now has it, or undefined when it was deleted. */
  observe(key: string, run: ScriptRun | undefined): void {
    const was = this.finished.get(key);
    const is = run === undefined ? undefined : isFinished(run.status?.phase);
    if (was === false) this.unfinished--;
    if (is === false) this.unfinished++;
    // Counted once, at when it finished: a run seen finishing now, or one first listed finished
    // (after a restart) by its finishedAt, so a new API knows the recent rate from its first list.
    if (was === undefined && is === false) this.firstSeen.set(key, this.now());
    if (was !== true && is === true) {
      const at = was === false ? this.now() : toMillis(run?.status?.finishedAt);
      const created = toMillis(run?.metadata.creationTimestamp);
      const from = Math.min(at ?? 0, created ?? this.firstSeen.get(key) ?? at ?? 0);
      const started = toMillis(run?.status?.startedAt);
      const waited = created !== undefined && started !== undefined ? Math.max(0, started - created) : undefined;
      if (at !== undefined && at >= this.now() - WINDOW_MS) this.record({ from, at, ...(waited !== undefined ? { waited } : {}) });
    }
    if (is !== false) this.firstSeen.delete(key);
    if (is === undefined) this.finished.delete(key);
    else this.finished.set(key, is);
  }

  private record(completion: Completion): void {
    let i = this.completions.length;
    while (i > 0 && this.completions[i - 1]!.from > completion.from) i--;
    this.completions.splice(i, 0, completion);
    this.times = undefined;
  }

  /** Drops what finished before the window; true when enough is left to know the rate. */
  private prune(): boolean {
    const since = this.now() - WINDOW_MS;
    if (this.completions.some(({ at }) => at < since)) {
      this.completions = this.completions.filter(({ at }) => at >= since);
      this.times = undefined;
    }
    return this.completions.length >= MIN_COMPLETIONS;
  }

  /** Runs finished per second of busy time within the window (some run under way), and how many
   * were under way on average meanwhile: the time they were under way over the busy time (Little's
   * law). Undefined with too few completions to tell. */
  load(): Load | undefined {
    if (!this.prune()) return undefined;
    const since = this.now() - WINDOW_MS;
    let busy = 0;
    let underWay = 0;
    let end = since;
    for (const { from, at } of this.completions) {
      const start = Math.max(from, end);
      if (at > start) busy += at - start;
      underWay += at - Math.max(from, since);
      end = Math.max(end, at);
    }
    const busySeconds = Math.max(1, busy / 1000);
    return { perSecond: this.completions.length / busySeconds, concurrency: underWay / 1000 / busySeconds };
  }

  /** Seconds from creation to end within which 95% of the runs of the window finished. */
  slowSeconds(): number | undefined {
    return this.prune() ? this.recentTimes().slow : undefined;
  }

  /** The median of how long the runs of the window waited from their creation to their script's
   * start (undefined when none says): seconds on a node with room, more on a node with none. */
  startWaitSeconds(): number | undefined {
    return this.prune() ? this.recentTimes().startWait : undefined;
  }

  private recentTimes(): { slow: number; startWait: number | undefined } {
    if (!this.times) {
      const took = this.completions.map(({ from, at }) => at - from).sort((a, b) => a - b);
      const waited = this.completions.flatMap(({ waited }) => (waited === undefined ? [] : [waited])).sort((a, b) => a - b);
      this.times = {
        slow: took[Math.ceil(took.length * 0.95) - 1]! / 1000,
        startWait: waited.length > 0 ? waited[Math.ceil(waited.length / 2) - 1]! / 1000 : undefined,
      };
    }
    return this.times;
  }

  /** Whether the watch shows the run `key` (finished or not). */
  knows(key: string): boolean {
    return this.finished.has(key);
  }

  /** Runs created and not finished. */
  get pending(): number {
    return this.unfinished;
  }
}

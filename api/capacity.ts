// What the shared watch says about load: how many runs have not finished, and how fast runs have
// been finishing lately. /execute refuses early (429 with Retry-After) a call whose wait could not
// cover the runs ahead of it, instead of answering 504 a minute later after creating a run that
// its caller, retrying, would then duplicate. Without enough recent completions to know the rate,
// nothing is refused.
import { toMillis } from "../core/time.js";
import { type ScriptRun, isFinished } from "../crds/schema.js";

/** Completions that make a rate worth trusting, and how far back they count. */
const MIN_COMPLETIONS = 5;
const WINDOW_MS = 5 * 60_000;

export class Capacity {
  /** Whether each run known to the watch has finished, by key. */
  private readonly finished = new Map<string, boolean>();
  private unfinished = 0;
  /** When runs were seen finishing, oldest first, within the window. */
  private completions: number[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  /** A run as the watch now has it, or undefined when it was deleted. */
  observe(key: string, run: ScriptRun | undefined): void {
    const was = this.finished.get(key);
    const is = run === undefined ? undefined : isFinished(run.status?.phase);
    if (was === false) this.unfinished--;
    if (is === false) this.unfinished++;
    // Counted once, at when it finished: a run seen finishing now, or one first listed finished
    // (after a restart) by its finishedAt, so a new API knows the recent rate from its first list.
    if (was !== true && is === true) {
      const at = was === false ? this.now() : toMillis(run?.status?.finishedAt);
      if (at !== undefined && at >= this.now() - WINDOW_MS) this.record(at);
    }
    if (is === undefined) this.finished.delete(key);
    else this.finished.set(key, is);
  }

  private record(at: number): void {
    let i = this.completions.length;
    while (i > 0 && this.completions[i - 1]! > at) i--;
    this.completions.splice(i, 0, at);
  }

  /** Runs created and not finished. */
  get pending(): number {
    return this.unfinished;
  }

  /** Seconds until a run created now would have finished, at the recent rate, with at least
   * `awaited` runs ahead (callers already waiting, whose runs the watch may not show yet);
   * undefined when the rate is unknown. */
  estimateSeconds(awaited = 0): number | undefined {
    const now = this.now();
    const since = now - WINDOW_MS;
    while (this.completions.length > 0 && this.completions[0]! < since) this.completions.shift();
    if (this.completions.length < MIN_COMPLETIONS) return undefined;
    const spanSeconds = Math.max(1, (now - this.completions[0]!) / 1000);
    const perSecond = this.completions.length / spanSeconds;
    return (Math.max(this.unfinished, awaited) + 1) / perSecond;
  }
}

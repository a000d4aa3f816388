// Which copy of a run a wait or an event stream is about. A run's name can be taken again once it is
// deleted (a retry under the same Idempotency-Key makes it again), and the shared watch can lag or
// be away: it may tell an earlier copy's last change and deletion after the copy the caller has,
// and after a gap its relist shows a later copy as a change, with no deletion of a name still there.
// So a deletion counts only if it is of the copy followed, and a later copy, once seen, is followed
// instead. Two copies of one name never exist at once, so a copy is later than the one followed
// when it was made in a later second (the apiserver sets creation times, to the second), when the
// watch tells it after a change of the one followed (it tells changes in order), or when a re-check
// asked after the copy followed was known shows it. Only the copy followed gives an outcome: one
// told before it is known is kept until then, and given only if it is that copy's. One
// case stays undecided: a copy of the same second that the watch tells before the copy followed is
// known, and before any change of it, may be an earlier copy's late news or a later copy's relist;
// it is taken for the first, so a later copy's deletion then ends the wait only at its timeout.
import { toMillis } from "../core/time.js";
import { type ScriptRun, isFinished } from "../crds/schema.js";

/** Whether `run` is a copy of its name made in a later second than `than`. */
export function madeLater(run: ScriptRun, than: ScriptRun): boolean {
  const made = toMillis(run.metadata.creationTimestamp);
  const before = toMillis(than.metadata.creationTimestamp);
  return made !== undefined && before !== undefined && made > before;
}

/** Where news of a run came from: the watch, in order, or a re-check asked at `askedAt`
 * (performance.now()). */
export type From = { watched: true } | { watched: false; askedAt: number };

export class OwnCopy {
  private own: ScriptRun | undefined;
  /** When the copy followed was known (performance.now()). */
  private followedAt = Infinity;
  /** The watch told a change of the copy followed: any other copy it tells from now on is later. */
  private ownTold = false;
  /** Before a copy is followed: the changes the watch told, in order, and the copies it told deleted. */
  private readonly toldBefore: ScriptRun[] = [];
  private readonly goneBefore = new Set<string>();
  /** Before a copy is followed: the last finished change told of each copy, by uid. */
  private readonly finishedBefore = new Map<string, ScriptRun>();

  /** The copy followed, once told (`follow`). */
  get current(): ScriptRun | undefined {
    return this.own;
  }

  /** Whether `run` is the copy followed, or may be: no copy is followed yet. An outcome is the
   * copy's own only once a copy is followed (`outcomeToldBefore`). */
  follows(run: ScriptRun): boolean {
    return this.own === undefined || this.own.metadata.uid === run.metadata.uid;
  }

  /** A change of the run, told by the watch or a re-check. */
  changed(run: ScriptRun, from: From): void {
    if (this.own) {
      this.consider(run, from);
    } else {
      if (from.watched) this.toldBefore.push(run);
      if (isFinished(run.status?.phase)) this.finishedBefore.set(run.metadata.uid ?? "", run);
    }
  }

  /** The outcome of the copy followed, when it was told before that copy was followed. */
  outcomeToldBefore(): ScriptRun | undefined {
    return this.own && this.finishedBefore.get(this.own.metadata.uid ?? "");
  }

  /** A deletion the watch told, of the copy with `uid`: true when it is the copy followed. Before a
   * copy is followed it is kept, for `follow` to weigh. */
  deleted(uid: string): boolean {
    if (!this.own) {
      this.goneBefore.add(uid);
      return false;
    }
    return uid === this.own.metadata.uid;
  }

  /** Follows `run` (the create's answer, the run a retry found, or a stream's first read), or a
   * later copy the watch told before; true when the watch already told the deletion of the copy
   * followed. */
  follow(run: ScriptRun, now = performance.now()): boolean {
    this.own = run;
    this.followedAt = now;
    for (const told of this.toldBefore.splice(0)) this.consider(told, { watched: true });
    return this.goneBefore.has(this.own.metadata.uid ?? "");
  }

  private consider(run: ScriptRun, from: From): void {
    const own = this.own!;
    if (run.metadata.uid === own.metadata.uid) {
      this.ownTold ||= from.watched;
    } else if (madeLater(run, own) || (from.watched ? this.ownTold : from.askedAt > this.followedAt)) {
      this.own = run;
      this.ownTold = from.watched;
    }
  }
}

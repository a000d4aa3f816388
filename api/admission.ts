// Which /execute calls get a run, and when. A call whose wait could not cover the runs ahead of it,
// at the rate runs have been finishing lately (Capacity), is refused with 429 at once and nothing is
// created; otherwise its run is created at once.
//
// With SCRIPTRUN_API_HOLD_WHEN_FULL, a call is held instead, with no run yet, when the node is full
// (runs of the last five minutes waited 10 s or more, at the median, from creation to their
// script's start; it counts as full until that falls below 5 s, or no look has found it full for a
// minute) and as many runs are under way as the rate was measured with (at least 32). A
// burst created at once on a rate measured before it can run slower than that rate (under make
// scale, 892 runs created on 16.5 runs/s ran at 13, and 114 callers were answered 504). Held calls
// are let through in order of arrival as runs ahead finish, and checked again as runs change, as
// slots are given back, and every second: one whose runs ahead can no longer finish within what is
// left of its wait, or that has less left than runs lately took with as many under way, is refused
// with 429 then, still before anything was created for it.
//
// It is off by default because "full" is read from start waits and an average: runs slow to start
// on a node with room, or runs of many minutes under way, also read as full, and the cap is what
// admission itself let through (api/README.md, "Overload is refused early").
import { ApiError } from "./errors.js";
import type { Capacity, Load } from "./capacity.js";

/** The share of a wait the estimate may fill. The rate of the last minutes is not quite that of the
 * next one, and an answer comes a watch event after its run ends. */
export const WAIT_HEADROOM = 0.9;

/** Runs under way below which no call is held, whatever the rate was measured with: a node measured
 * with one run at a time is not made to run a small burst one at a time. */
export const MIN_UNDER_WAY = 32;

/** How long runs lately waited to start (median, from creation) when the node counts as full, and
 * below what it counts as having room again: between the two it stays as it was, so a median that
 * hovers about the first does not let every held call go at once each time it dips. */
export const FULL_START_WAIT_SECONDS = 10;
export const ROOM_START_WAIT_SECONDS = 5;
/** How recent the last look that found the node full must be for it to stay full between the two:
 * looks come every second while calls are held, and with every call. */
const STAY_FULL_MS = 60_000;

/** How often held calls are checked again when no run finishes meanwhile. */
const RECHECK_MS = 1000;

/** What admission needs of the waiter: the load its watch sees, and a slot for each wait. */
export interface Slots {
  readonly capacity: Pick<Capacity, "load" | "slowSeconds" | "startWaitSeconds" | "pending" | "knows">;
  reserve(): () => void;
}

interface Held {
  /** The run's namespace/name. */
  key: string;
  /** When its wait runs out (Date.now()). */
  deadline: number;
  waitSeconds: number;
  /** Gives its wait slot back. */
  release: () => void;
  /** Lets it through, or refuses it; either way it is no longer held. */
  admit: () => void;
  refuse: (err: unknown) => void;
}

const clientClosed = () => new ApiError(499, "client_closed", "The client closed the connection before the run was created");

export class Admission {
  /** Told of each call refused over capacity: on arrival, or while held (the API's metrics). */
  onRefused: (when: "arrival" | "held") => void = () => {};
  private held: Held[] = [];
  /** Runs of calls let through that the watch has not shown yet: the calls, by namespace/name
   * (retries under one Idempotency-Key share a name). */
  private readonly unseen = new Map<string, Set<symbol>>();
  private unseenCount = 0;
  private timer: NodeJS.Timeout | undefined;
  /** When a look last found the node full. */
  private fullAt = -Infinity;

  /** `hold`: whether calls are held on a full node at all (SCRIPTRUN_API_HOLD_WHEN_FULL). */
  constructor(private readonly slots: Slots, private readonly hold: boolean, private readonly now: () => number = Date.now) {}

  /** Calls held now, waiting for runs ahead to finish before their own is created. */
  get holding(): number {
    return this.held.length;
  }

  /** Resolves, once the call's run (`key`, namespace/name) may be created, with the release of its
   * wait slot (held calls hold one too). Throws 429 when it cannot finish within `waitSeconds` (at
   * once, or later while held) or no slot is left, and 499 when `signal` aborts while it is held.
   * `arrived` is when the call came (Date.now()). */
  enter(key: string, waitSeconds: number, signal: AbortSignal, arrived = this.now()): Promise<() => void> {
    if (signal.aborted) throw clientClosed();
    // Whether the watch shows a run of that name as the call comes (the caller found none).
    const knewAtEntry = this.slots.capacity.knows(key);
    // Calls held before it go first, if they may go now.
    this.pump();
    const { load, cap } = this.look();
    const ahead = this.underWay() + this.held.length;
    // With no run ahead there is nothing to wait for: how long the call's own script runs is its own,
    // and a retry would be refused alike.
    if (load && ahead > 0) {
      const eta = (ahead + 1) / load.perSecond;
      if (eta > waitSeconds * WAIT_HEADROOM) {
        this.onRefused("arrival");
        throw this.refusal(ahead, eta, waitSeconds, waitSeconds);
      }
    }
    const release = this.slots.reserve();
    if (!load || (this.held.length === 0 && this.underWay() < cap)) return Promise.resolve(this.through(key, release, knewAtEntry));
    return new Promise((resolve, reject) => {
      const held: Held = {
        key,
        deadline: arrived + waitSeconds * 1000,
        waitSeconds,
        release,
        admit: () => {
          signal.removeEventListener("abort", onAbort);
          resolve(this.through(key, release, knewAtEntry));
        },
        refuse: (err) => {
          signal.removeEventListener("abort", onAbort);
          reject(err);
        },
      };
      const onAbort = () => {
        this.held = this.held.filter((h) => h !== held);
        this.schedule();
        release();
        reject(clientClosed());
      };
      this.held.push(held);
      signal.addEventListener("abort", onAbort, { once: true });
      this.schedule();
    });
  }

  /** The watch showed the run `key` (namespace/name): it counts among the pending runs now. */
  seen(key: string): void {
    this.unseenCount -= this.unseen.get(key)?.size ?? 0;
    this.unseen.delete(key);
  }

  /** Checks held calls again: called when a run finishes or a slot is given back. */
  pump(): void {
    if (this.held.length === 0) return;
    const refused: Held[] = [];
    const { load, cap } = this.look();
    const now = this.now();
    let underWay = this.underWay();
    const still: Held[] = [];
    for (const held of this.held) {
      const left = (held.deadline - now) / 1000;
      // Without a rate (the window emptied) nothing is known to hold a call for.
      if (!load) {
        held.admit();
        continue;
      }
      const ahead = underWay + still.length;
      const eta = (ahead + 1) / load.perSecond;
      if (ahead > 0 && eta > left * WAIT_HEADROOM) {
        this.onRefused("held");
        held.refuse(this.refusal(ahead, eta, held.waitSeconds, left));
        refused.push(held);
        continue;
      }
      if (still.length === 0 && underWay < cap) {
        // 95% of the runs of the window took at most `slow` with `concurrency` under way on
        // average: with fewer under way now, a run takes less.
        const slow = (this.slots.capacity.slowSeconds() ?? 0) * Math.min(1, (underWay + 1) / Math.max(1, load.concurrency));
        if (underWay > 0 && slow > left) {
          this.onRefused("held");
          held.refuse(this.tooSlow(underWay, slow, left, held.waitSeconds, underWay / load.perSecond));
          refused.push(held);
        } else {
          held.admit();
          underWay++;
        }
        continue;
      }
      still.push(held);
    }
    this.held = still;
    this.schedule();
    // Given back after the check: a slot given back starts a check of its own.
    for (const held of refused) held.release();
  }

  /** Refuses every held call with `err` (the API is shutting down). */
  refuseAll(err: ApiError): void {
    const held = this.held.splice(0);
    this.schedule();
    for (const call of held) {
      call.refuse(err);
      call.release();
    }
  }

  /** Runs under way, or about to be: those the watch shows unfinished, and those of calls let
   * through that it does not show yet. */
  private underWay(): number {
    return this.slots.capacity.pending + this.unseenCount;
  }

  /** The load now, and the runs under way from which calls are held: none (Infinity) unless the
   * node is full, holding on and the rate known, its runs' median start wait at least
   * FULL_START_WAIT_SECONDS, or ROOM_START_WAIT_SECONDS while a look within STAY_FULL_MS found it
   * full. Every decision looks first, so a look is never stale. */
  private look(): { load: Load | undefined; cap: number } {
    const load = this.slots.capacity.load();
    const startWait = this.slots.capacity.startWaitSeconds();
    const now = this.now();
    // With no rate known (no run finished for minutes) nothing is left of what made it full.
    if (!load) this.fullAt = -Infinity;
    const floor = now - this.fullAt <= STAY_FULL_MS ? ROOM_START_WAIT_SECONDS : FULL_START_WAIT_SECONDS;
    if (!this.hold || !load || startWait === undefined || startWait < floor) return { load, cap: Infinity };
    this.fullAt = now;
    return { load, cap: Math.max(MIN_UNDER_WAY, load.concurrency) };
  }

  /** Lets the call whose run is `key` through: counted under way until the watch shows its run, or
   * until the call ends (its run not created after all: refused by preflight, or its create failed).
   * A run the watch came to show while the call was held was made by another call under the same
   * Idempotency-Key: it counts among the pending runs already. One the watch showed as the call came
   * (deleted, the watch not told yet) is another copy, and this call's to make. */
  private through(key: string, release: () => void, knewAtEntry: boolean): () => void {
    const call = Symbol(key);
    if (knewAtEntry || !this.slots.capacity.knows(key)) {
      const calls = this.unseen.get(key) ?? new Set<symbol>();
      this.unseen.set(key, calls.add(call));
      this.unseenCount++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // Its own count only: the watch may have shown its run, and another call's be counted since.
      const calls = this.unseen.get(key);
      if (calls?.delete(call)) {
        this.unseenCount--;
        if (calls.size === 0) this.unseen.delete(key);
      }
      release();
    };
  }

  private schedule(): void {
    if (this.held.length === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    } else if (!this.timer) {
      this.timer = setInterval(() => this.pump(), RECHECK_MS);
      this.timer.unref();
    }
  }

  private refusal(ahead: number, eta: number, waitSeconds: number, left: number): ApiError {
    const wait = left === waitSeconds ? `the ${waitSeconds} s wait` : `the ${Math.floor(left)} s left of the ${waitSeconds} s wait`;
    return overCapacity(`${ahead} ${ahead === 1 ? "run is" : "runs are"} ahead; at the recent rate a new run would finish in about ${Math.round(eta)} s, past ${wait}`,
      eta - left * WAIT_HEADROOM);
  }

  private tooSlow(underWay: number, slow: number, left: number, waitSeconds: number, drain: number): ApiError {
    return overCapacity(`With ${underWay} ${underWay === 1 ? "run" : "runs"} under way, a new run would take up to about ` +
      `${Math.ceil(slow)} s, as 95% of the runs of the last minutes did, more than the ${Math.floor(left)} s left of the ${waitSeconds} s wait`, drain);
  }

}

/** A 429 over_capacity saying `why`, asking for a retry after `retryAfter` seconds (at least 1). */
export function overCapacity(why: string, retryAfter: number): ApiError {
  return new ApiError(429, "over_capacity", `${why}. Retry later, or submit it with POST /runs`, {},
    { "Retry-After": String(Math.max(1, Math.ceil(retryAfter))) });
}

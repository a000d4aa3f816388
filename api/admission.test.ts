// Admission of /execute calls: refused at once past the wait; with holding on and a full node,
// created at once below the runs under way the rate was measured with, held in order above them
// until runs ahead finish, and refused while held when what is left of the wait no longer covers
// the runs ahead.
import assert from "node:assert/strict";
import { Admission, FULL_START_WAIT_SECONDS, MIN_UNDER_WAY, ROOM_START_WAIT_SECONDS } from "./admission.js";
import type { Load } from "./capacity.js";
import { ApiError } from "./errors.js";

/** Slots over a load set by hand: `pending` runs unfinished, `slow` s for 95% of runs lately,
 * runs lately waiting `startWait` s to start (a full node, unless set lower), and the runs the
 * watch shows (`known`, by key); calls held on a full node unless `hold` is false. */
function fixture(load: Load | undefined, pending = 0, slow = 0, hold = true) {
  const state = { load, pending, slow, startWait: FULL_START_WAIT_SECONDS as number | undefined, inFlight: 0, refused: [] as string[],
    now: 1_000_000, known: new Set<string>() };
  const slots = {
    capacity: {
      load: () => state.load, slowSeconds: () => state.slow, startWaitSeconds: () => state.startWait, knows: (k: string) => state.known.has(k),
      get pending() { return state.pending; },
    },
    get inFlight() { return state.inFlight; },
    reserve: () => {
      state.inFlight++;
      return () => { state.inFlight--; };
    },
  };
  const admission = new Admission(slots, hold, () => state.now);
  admission.onRefused = (when) => state.refused.push(when);
  return { state, admission };
}

type Outcome = "pending" | "admitted" | ApiError;
const outcomes = new WeakMap<Promise<unknown>, Outcome>();

/** Follows how the call's promise settles, from now. */
function track<T>(call: Promise<T>): Promise<T> {
  outcomes.set(call, "pending");
  call.then(() => outcomes.set(call, "admitted"), (err: ApiError) => outcomes.set(call, err));
  return call;
}

/** Whether the tracked call has settled, and how, once the microtasks queued so far have run. */
async function settled(call: Promise<unknown>): Promise<Outcome> {
  await new Promise((resolve) => setImmediate(resolve));
  return outcomes.get(call)!;
}

const open = () => new AbortController().signal;
let calls = 0;
const key = () => `default/call-${++calls}`;

describe("admission of /execute calls", () => {
  it("admits every call at once while the rate is unknown", async () => {
    const { state, admission } = fixture(undefined, 10_000);
    await admission.enter(key(), 1, open());
    assert.equal(state.inFlight, 1);
  });

  it("refuses at once a call whose wait could not cover the runs ahead, counting those let through that the watch does not show yet", async () => {
    const { state, admission } = fixture({ perSecond: 1, concurrency: 50 }, 20);
    for (let i = 0; i < 10; i++) await admission.enter(key(), 60, open());
    // 20 pending and 10 about to be: (30 + 1) / 1 s, past 9 s, the wait less its headroom.
    assert.throws(() => admission.enter(key(), 10, open()), (err: ApiError) => {
      assert.equal(err.status, 429);
      assert.equal(err.message, "30 runs are ahead; at the recent rate a new run would finish in about 31 s, past the 10 s wait. " +
        "Retry later, or submit it with POST /runs");
      assert.equal(err.headers["Retry-After"], "22");
      return true;
    });
    assert.deepEqual(state.refused, ["arrival"]);
    assert.equal(state.inFlight, 10);
  });

  it("counts a call let through once: until the watch shows its run, or until the call ends with no run", async () => {
    const { state, admission } = fixture({ perSecond: 1, concurrency: 50 });
    const keys = Array.from({ length: 8 }, key);
    for (const k of keys) await admission.enter(k, 60, open());
    // The watch shows the 8 runs: pending now, no longer about to be. (8 + 1) / 1 s fits 9 s.
    state.pending = 8;
    for (const k of keys) admission.seen(k);
    const ninth = await admission.enter(key(), 10, open());
    assert.throws(() => admission.enter(key(), 10, open()), /^Error: 9 runs are ahead/);
    // The ninth call ended with no run made (preflight refused it): it is not ahead of the next.
    ninth();
    await admission.enter(key(), 10, open());
  });

  it("admits at once below the runs under way the rate was measured with, and holds the calls above them in order", async () => {
    const { state, admission } = fixture({ perSecond: 10, concurrency: 50 }, 49);
    await admission.enter(key(), 60, open());
    assert.equal(state.inFlight, 1);
    // 50 under way, as many as the rate was measured with: the next calls wait, with no run yet (each
    // holding its wait slot, as a waiting request does).
    const first = track(admission.enter(key(), 60, open()));
    const second = track(admission.enter(key(), 60, open()));
    assert.equal(await settled(first), "pending");
    assert.equal(admission.holding, 2);
    assert.equal(state.inFlight, 3);
    // One run ahead finished: one more may be under way, the first held call's.
    state.pending = 48;
    admission.pump();
    assert.equal(await settled(first), "admitted");
    assert.equal(await settled(second), "pending");
    assert.equal(admission.holding, 1);
    // A call that comes now waits behind the one held, though a run just finished.
    state.pending = 47;
    const third = track(admission.enter(key(), 60, open()));
    admission.pump();
    assert.equal(await settled(second), "admitted");
    assert.equal(await settled(third), "pending");
    assert.deepEqual(state.refused, []);
  });

  it("holds no call below a floor of runs under way, whatever few the rate was measured with", async () => {
    const { admission } = fixture({ perSecond: 10, concurrency: 1 }, MIN_UNDER_WAY - 1);
    await admission.enter(key(), 60, open());
    assert.equal(await settled(track(admission.enter(key(), 60, open()))), "pending");
  });

  it("holds no call unless told to (SCRIPTRUN_API_HOLD_WHEN_FULL), full node or not", async () => {
    const off = fixture({ perSecond: 100, concurrency: 50 }, 200, 0, false);
    off.state.startWait = 60;
    for (let i = 0; i < 10; i++) await off.admission.enter(key(), 60, open());
    assert.equal(off.admission.holding, 0);
    // The same load with holding on: held.
    const { state, admission } = fixture({ perSecond: 100, concurrency: 50 }, 200);
    state.startWait = 60;
    assert.equal(await settled(track(admission.enter(key(), 60, open()))), "pending");
  });

  it("holds no call on a node with room, where runs start within seconds, however many are under way", async () => {
    const { state, admission } = fixture({ perSecond: 100, concurrency: 50 }, 200);
    state.startWait = FULL_START_WAIT_SECONDS - 1;
    for (let i = 0; i < 10; i++) await admission.enter(key(), 60, open());
    state.startWait = undefined;
    await admission.enter(key(), 60, open());
    assert.equal(state.inFlight, 11);
  });

  it("lets the held calls through once runs start within seconds again, before a call that comes then", async () => {
    const { state, admission } = fixture({ perSecond: 100, concurrency: 50 }, 50);
    const held = [track(admission.enter(key(), 60, open())), track(admission.enter(key(), 60, open()))];
    assert.equal(await settled(held[0]!), "pending");
    state.startWait = 2;
    const order: string[] = [];
    held.forEach((call, i) => void call.then(() => order.push(`held-${i}`)));
    const next = admission.enter(key(), 60, open()).then(() => order.push("next"));
    await next;
    for (const call of held) assert.equal(await settled(call), "admitted");
    assert.deepEqual(order, ["held-0", "held-1", "next"]);
  });

  it("holds no call whose caller went away before it came to admission", () => {
    const { state, admission } = fixture({ perSecond: 10, concurrency: 50 }, 50);
    const caller = new AbortController();
    caller.abort();
    assert.throws(() => admission.enter(key(), 60, caller.signal), (err: ApiError) => err.status === 499);
    assert.equal(admission.holding, 0);
    assert.equal(state.inFlight, 0);
  });

  it("counts each call under one name (retries under one Idempotency-Key) until its own end", async () => {
    const { admission } = fixture({ perSecond: 1, concurrency: 50 }, 0);
    const first = await admission.enter("default/same", 10, open());
    const second = await admission.enter("default/same", 10, open());
    for (let i = 0; i < 7; i++) await admission.enter(key(), 10, open());
    // 9 calls let through: a tenth would finish in (9 + 1) / 1 s, past 9 s.
    assert.throws(() => admission.enter(key(), 10, open()), /^Error: 9 runs are ahead/);
    first();
    first();
    // The first call ended, once however often it says so: 8 under way, room for one.
    await admission.enter(key(), 10, open());
    assert.throws(() => admission.enter(key(), 10, open()), /^Error: 9 runs are ahead/);
    // The second call under the same name is still counted until its own end.
    second();
    await admission.enter(key(), 10, open());
  });

  it("counts no held call whose run another call under its Idempotency-Key made meanwhile, but one whose run the watch showed as it came", async () => {
    const { state, admission } = fixture({ perSecond: 10, concurrency: 50 }, 50);
    const ahead = () => {
      try {
        admission.enter(key(), 1, open());
      } catch (err) {
        return (err as ApiError).message.split(" runs are ahead")[0];
      }
      return "admitted";
    };
    const held = track(admission.enter("default/made", 60, open()));
    assert.equal(await settled(held), "pending");
    // Another call under the same key made the run, which the watch shows; a run ahead finished.
    state.known.add("default/made");
    admission.seen("default/made");
    state.pending = 49;
    admission.pump();
    assert.equal(await settled(held), "admitted");
    assert.equal(ahead(), "49");
    // A run the watch still shows as a call comes (deleted, not told yet) is no run of this call's:
    // it makes another.
    state.known.add("default/again");
    await admission.enter("default/again", 60, open());
    assert.equal(ahead(), "50");
  });

  it("keeps holding while the runs' start wait dips below 10 s, and lets the held calls go once it falls below 5 s", async () => {
    const { state, admission } = fixture({ perSecond: 100, concurrency: 50 }, 50);
    const held = track(admission.enter(key(), 60, open()));
    assert.equal(await settled(held), "pending");
    state.startWait = FULL_START_WAIT_SECONDS - 1;
    admission.pump();
    assert.equal(await settled(held), "pending");
    state.startWait = ROOM_START_WAIT_SECONDS - 1;
    admission.pump();
    assert.equal(await settled(held), "admitted");
  });

  it("takes back, when a call ends, its own count only, not that of a later call under the same name", async () => {
    const { state, admission } = fixture({ perSecond: 1, concurrency: 50 });
    const first = await admission.enter("default/same", 60, open());
    // The watch shows its run, which is then deleted; a retry makes it again.
    state.known.add("default/same");
    admission.seen("default/same");
    state.known.delete("default/same");
    await admission.enter("default/same", 60, open());
    first();
    assert.throws(() => admission.enter(key(), 1, open()), /^Error: 1 run is ahead/);
  });

  it("forgets that the node was full after a minute with no look finding it so, or once no rate is known", async () => {
    const { state, admission } = fixture({ perSecond: 100, concurrency: 50 }, 50);
    const heldThenGone = async () => {
      const caller = new AbortController();
      const call = track(admission.enter(key(), 60, caller.signal));
      const outcome = await settled(call);
      caller.abort();
      await settled(call);
      return outcome;
    };
    assert.equal(await heldThenGone(), "pending");
    // Runs start within 7 s: full still, within a minute of a look that found it full.
    state.startWait = 7;
    state.now += 30_000;
    assert.equal(await heldThenGone(), "pending");
    state.now += 60_001;
    assert.equal(await settled(track(admission.enter(key(), 60, open()))), "admitted");
    // Full again; then no run finished for minutes, and the rate is unknown: nothing is left of it.
    state.startWait = 12;
    const held = track(admission.enter(key(), 60, open()));
    assert.equal(await settled(held), "pending");
    state.load = undefined;
    admission.pump();
    assert.equal(await settled(held), "admitted");
    state.load = { perSecond: 100, concurrency: 50 };
    state.startWait = 7;
    assert.equal(await settled(track(admission.enter(key(), 60, open()))), "admitted");
  });

  it("refuses a held call once the runs ahead can no longer finish within what is left of its wait", async () => {
    const { state, admission } = fixture({ perSecond: 10, concurrency: 50 }, 50);
    const held = track(admission.enter(key(), 60, open()));
    // 10 s later the node turned out slower: 50 ahead at 1 run/s is 51 s, past 90% of the 50 s left.
    state.now += 10_000;
    state.load = { perSecond: 1, concurrency: 50 };
    admission.pump();
    const outcome = await settled(held);
    assert.ok(outcome instanceof ApiError);
    assert.equal(outcome.status, 429);
    assert.equal(outcome.message, "50 runs are ahead; at the recent rate a new run would finish in about 51 s, past the 50 s left of the 60 s wait. " +
      "Retry later, or submit it with POST /runs");
    assert.equal(outcome.headers["Retry-After"], "6");
    assert.deepEqual(state.refused, ["held"]);
    assert.equal(admission.holding, 0);
    assert.equal(state.inFlight, 0);
  });

  it("checks held calls every second, with no run finishing meanwhile", async function () {
    this.timeout(5000);
    const { state, admission } = fixture({ perSecond: 10, concurrency: 50 }, 50);
    const held = track(admission.enter(key(), 60, open()));
    state.now += 59_000;
    await new Promise((resolve) => setTimeout(resolve, 1200));
    assert.ok((await settled(held)) instanceof ApiError);
    assert.equal(admission.holding, 0);
  });

  it("refuses a held call when its turn comes with less of its wait left than runs lately took with as many under way", async () => {
    const { state, admission } = fixture({ perSecond: 100, concurrency: 50 }, 50, 40);
    const held = track(admission.enter(key(), 60, open()));
    state.now += 25_000;
    state.pending = 49;
    admission.pump();
    const outcome = await settled(held);
    assert.ok(outcome instanceof ApiError);
    assert.equal(outcome.message, "With 49 runs under way, a new run would take up to about 40 s, as 95% of the runs of the last minutes did, " +
      "more than the 35 s left of the 60 s wait. Retry later, or submit it with POST /runs");
    // With 4 under way, a run takes about a tenth of that: the next call is let through with as little left.
    const next = track(admission.enter(key(), 60, open()));
    state.now += 25_000;
    state.pending = 4;
    admission.pump();
    assert.equal(await settled(next), "admitted");
  });

  it("lets a held call go once no run is ahead of it, however little of its wait is left", async () => {
    const { state, admission } = fixture({ perSecond: 1, concurrency: 50 }, 50, 40);
    const held = track(admission.enter(key(), 60, open()));
    state.now += 59_000;
    state.pending = 0;
    admission.pump();
    assert.equal(await settled(held), "admitted");
  });

  it("refuses no call at once with no run ahead, whatever runs lately took", () => {
    const { state, admission } = fixture({ perSecond: 0.1, concurrency: 1 }, 0, 30, false);
    void admission.enter(key(), 1, open());
    assert.equal(state.inFlight, 1);
  });

  it("forgets a held call whose caller went away, and creates nothing for it", async () => {
    const { state, admission } = fixture({ perSecond: 10, concurrency: 50 }, 50);
    const caller = new AbortController();
    const held = track(admission.enter(key(), 60, caller.signal));
    caller.abort();
    const outcome = await settled(held);
    assert.ok(outcome instanceof ApiError);
    assert.equal(outcome.status, 499);
    assert.equal(admission.holding, 0);
    state.pending = 0;
    admission.pump();
    assert.equal(state.inFlight, 0);
  });

  it("refuses every held call when the API shuts down", async () => {
    const { state, admission } = fixture({ perSecond: 10, concurrency: 50 }, 50);
    const held = [track(admission.enter(key(), 60, open())), track(admission.enter(key(), 60, open()))];
    admission.refuseAll(new ApiError(503, "shutting_down", "bye"));
    for (const call of held) assert.equal(((await settled(call)) as ApiError).status, 503);
    assert.equal(admission.holding, 0);
    assert.equal(state.inFlight, 0);
  });

  it("lets a held call go once the rate is no longer known", async () => {
    const { state, admission } = fixture({ perSecond: 10, concurrency: 50 }, 50);
    const held = track(admission.enter(key(), 60, open()));
    state.load = undefined;
    admission.pump();
    assert.equal(await settled(held), "admitted");
  });
});

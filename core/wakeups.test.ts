import assert from "node:assert/strict";
import { WakeupBatcher, type WakeupClock, realClock } from "./wakeups.js";

/** A clock whose time the test moves, recording the sleeps and running the deferred ones when told. */
function fakeClock() {
  const clock = {
    at: 0,
    slept: [] as number[],
    queued: [] as Array<() => void>,
    now: () => clock.at,
    sleep: (ms: number) => {
      clock.slept.push(ms);
    },
    afterIo: (fn: () => void) => {
      clock.queued.push(fn);
    },
    /** The event loop's turn ends: what was deferred runs. */
    turn: () => {
      for (const fn of clock.queued.splice(0)) fn();
    },
  };
  return clock satisfies WakeupClock;
}

/** `count` events handled in one turn of the loop at the clock's time, then the turn ends. */
function burst(batcher: WakeupBatcher, clock: ReturnType<typeof fakeClock>, count: number): void {
  for (let i = 0; i < count; i++) batcher.handled();
  clock.turn();
}

describe("the wakeup batcher", () => {
  it("never sleeps when off, however fast the events come", () => {
    const clock = fakeClock();
    const batcher = new WakeupBatcher(clock);
    batcher.configure({ windowMs: 0, minPerSecond: 1 });
    for (let ms = 0; ms <= 3000; ms += 10) {
      clock.at = ms;
      burst(batcher, clock, 5);
    }
    assert.deepEqual(clock.slept, []);
  });

  it("does nothing below its rate, so a quiet process answers at once", () => {
    const clock = fakeClock();
    const batcher = new WakeupBatcher(clock);
    batcher.configure({ windowMs: 20, minPerSecond: 200 });
    for (let ms = 0; ms <= 5000; ms += 10) {
      clock.at = ms;
      burst(batcher, clock, 1);
    }
    assert.deepEqual(clock.slept, [], "100 events a second");
  });

  it("sleeps once after each burst while the events come faster than its rate, and stops when they slow", () => {
    const clock = fakeClock();
    const batcher = new WakeupBatcher(clock);
    batcher.configure({ windowMs: 20, minPerSecond: 200 });
    for (let ms = 0; ms < 2000; ms += 10) {
      clock.at = ms;
      burst(batcher, clock, 4);
    }
    // The first second is counted before it is judged (400 a second): then one sleep per burst.
    assert.equal(clock.slept.length, 100);
    assert.ok(clock.slept.every((ms) => ms === 20));
    clock.slept.length = 0;
    for (let ms = 2000; ms < 4000; ms += 100) {
      clock.at = ms;
      burst(batcher, clock, 1);
    }
    // Judged busy at 2 s still, for a second of bursts; judged slow at 3 s.
    assert.equal(clock.slept.length, 10, "sleeps after the rate fell to 10 a second");
    const after = clock.slept.length;
    clock.at = 4100;
    burst(batcher, clock, 1);
    assert.equal(clock.slept.length, after, "judged slow: no more sleeps");
  });

  it("judges the rate over the time since it last counted, so a burst after a long quiet is not busy", () => {
    const clock = fakeClock();
    const batcher = new WakeupBatcher(clock);
    batcher.configure({ windowMs: 20, minPerSecond: 200 });
    burst(batcher, clock, 1);
    clock.at = 60_000;
    burst(batcher, clock, 500);
    assert.deepEqual(clock.slept, [], "501 events over a minute");
  });

  it("sleeps for real by blocking the thread: nothing else runs meanwhile", async () => {
    let ticked = 0;
    const ticker = setInterval(() => ticked++, 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const before = ticked;
    const began = performance.now();
    realClock.sleep(30);
    assert.ok(performance.now() - began >= 29, `slept ${performance.now() - began} ms`);
    assert.equal(ticked, before, "no timer ran during the sleep");
    clearInterval(ticker);
  });
});

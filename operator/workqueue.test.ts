import assert from "node:assert/strict";
import { type ProcessResult, type Timers, WorkQueue } from "./workqueue.js";

/** A clock that only moves when the test says so. */
class FakeClock implements Timers {
  private time = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.time + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  /** Moves time forward, firing due timers in order. */
  async advance(ms: number): Promise<void> {
    const until = this.time + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = due[1].at;
      due[1].fn();
      await settle();
    }
    this.time = until;
    await settle();
  }
}

/** Lets every pending promise callback run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** A controllable handler: each call waits until the test releases it. */
class Handler {
  readonly calls: string[] = [];
  active = 0;
  maxActive = 0;
  private readonly waiting: Array<{ key: string; release: (r?: ProcessResult | Error) => void }> = [];
  process = (key: string): Promise<ProcessResult | void> => {
    this.calls.push(key);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    return new Promise((resolve, reject) => {
      this.waiting.push({
        key,
        release: (r) => {
          this.active--;
          if (r instanceof Error) reject(r);
          else resolve(r);
        },
      });
    });
  };
  async finish(key: string, result?: ProcessResult | Error): Promise<void> {
    const index = this.waiting.findIndex((w) => w.key === key);
    assert.ok(index >= 0, `${key} is not being processed`);
    this.waiting.splice(index, 1)[0]!.release(result);
    await settle();
  }
  inFlight(): string[] {
    return this.waiting.map((w) => w.key);
  }
}

function setup(workers = 2, extra: { onPickup?: (key: string, ms: number) => void; paused?: boolean } = {}) {
  const clock = new FakeClock();
  const handler = new Handler();
  const errors: Array<[string, number]> = [];
  const queue = new WorkQueue({
    process: handler.process, workers, timers: clock, baseDelayMs: 100, maxDelayMs: 1000,
    onError: (key, _err, delay) => errors.push([key, delay]), ...extra,
  });
  return { clock, handler, queue, errors };
}

describe("the work queue", () => {
  it("processes a key added several times while waiting only once", async () => {
    const { handler, queue } = setup(1);
    queue.add("a");
    queue.add("b");
    queue.add("b");
    queue.add("b");
    await settle();
    await handler.finish("a");
    await handler.finish("b");
    assert.deepEqual(handler.calls, ["a", "b"]);
  });

  it("made paused, holds every key, delayed ones too, until started", async () => {
    const { handler, queue, clock } = setup(2, { paused: true });
    queue.add("a");
    queue.addAfter("b", 10);
    await clock.advance(20);
    assert.deepEqual(handler.calls, []);
    queue.start();
    await settle();
    assert.deepEqual(handler.calls, ["a", "b"]);
  });

  it("never processes one key twice at once, and re-runs a key added while it was processing", async () => {
    const { handler, queue } = setup(4);
    queue.add("a");
    await settle();
    queue.add("a");
    queue.add("a");
    await settle();
    assert.deepEqual(handler.inFlight(), ["a"]);
    await handler.finish("a");
    assert.deepEqual(handler.inFlight(), ["a"]);
    await handler.finish("a");
    assert.deepEqual(handler.calls, ["a", "a"]);
  });

  it("takes urgent keys first, moves a waiting key up when urgent news comes for it, and re-runs a key in its lane", async () => {
    const { handler, queue } = setup(1);
    queue.add("busy");
    await settle();
    for (const key of ["new-1", "new-2", "new-3"]) queue.add(key);
    queue.add("finished-pod", true);
    queue.add("new-3", true);
    queue.add("new-1");
    queue.add("busy", true);
    assert.equal(queue.depth, 4, "a key moved up is waiting once");
    for (const key of ["busy", "finished-pod", "new-3", "busy", "new-1"]) await handler.finish(key);
    await handler.finish("new-2");
    assert.deepEqual(handler.calls, ["busy", "finished-pod", "new-3", "busy", "new-1", "new-2"]);
    assert.equal(queue.depth, 0);
  });

  it("runs at most `workers` keys at a time, in the order they came", async () => {
    const { handler, queue } = setup(2);
    for (const key of ["a", "b", "c", "d"]) queue.add(key);
    await settle();
    assert.deepEqual(handler.inFlight(), ["a", "b"]);
    await handler.finish("b");
    assert.deepEqual(handler.inFlight(), ["a", "c"]);
    await handler.finish("a");
    await handler.finish("c");
    await handler.finish("d");
    assert.equal(handler.maxActive, 2);
    assert.deepEqual(handler.calls, ["a", "b", "c", "d"]);
  });

  it("retries a failing key with exponential backoff up to the cap, and resets after a success", async () => {
    const { clock, handler, queue, errors } = setup(1);
    queue.add("a");
    await settle();
    for (let i = 0; i < 6; i++) {
      await handler.finish("a", new Error("boom"));
      await clock.advance(errors[errors.length - 1]![1]);
    }
    assert.deepEqual(errors.map(([, delay]) => delay), [100, 200, 400, 800, 1000, 1000]);
    await handler.finish("a");
    queue.add("a");
    await settle();
    await handler.finish("a", new Error("again"));
    assert.equal(errors[errors.length - 1]![1], 100);
  });

  it("does not retry before the backoff has passed", async () => {
    const { clock, handler, queue } = setup(1);
    queue.add("a");
    await settle();
    await handler.finish("a", new Error("boom"));
    await clock.advance(99);
    assert.equal(handler.calls.length, 1);
    await clock.advance(1);
    assert.equal(handler.calls.length, 2);
  });

  it("runs a key again after the delay its handler asked for", async () => {
    const { clock, handler, queue } = setup(1);
    queue.add("a");
    await settle();
    await handler.finish("a", { requeueAfterMs: 5000 });
    await clock.advance(4999);
    assert.equal(handler.calls.length, 1);
    await clock.advance(1);
    assert.deepEqual(handler.calls, ["a", "a"]);
  });

  it("keeps only the earliest of several delays for one key", async () => {
    const { clock, handler, queue } = setup(1);
    queue.addAfter("a", 1000);
    queue.addAfter("a", 300);
    queue.addAfter("a", 2000);
    assert.equal(clock.pending, 1);
    await clock.advance(300);
    assert.deepEqual(handler.calls, ["a"]);
    await handler.finish("a");
    await clock.advance(5000);
    assert.deepEqual(handler.calls, ["a"]);
  });

  it("reports how long a key waited before a worker picked it up", async () => {
    const waits: Array<[string, number]> = [];
    const { clock, handler, queue } = setup(1, { onPickup: (key, ms) => waits.push([key, ms]) });
    queue.add("a");
    queue.add("b");
    await settle();
    await clock.advance(250);
    await handler.finish("a");
    await handler.finish("b");
    assert.deepEqual(waits, [["a", 0], ["b", 250]]);
  });

  it("tells the handler when its key was queued: the first of the adds merged while it waited", async () => {
    const clock = new FakeClock();
    const handler = new Handler();
    const queuedAt: Array<[string, number]> = [];
    const queue = new WorkQueue({ workers: 1, timers: clock, process: (key, at) => {
      queuedAt.push([key, at]);
      return handler.process(key);
    } });
    queue.add("a");
    await clock.advance(100);
    queue.add("b");
    await clock.advance(100);
    queue.add("b");
    await handler.finish("a");
    await handler.finish("b");
    assert.deepEqual(queuedAt, [["a", 0], ["b", 100]]);
  });

  it("on shutdown stops taking work, drops delayed keys and waits for the keys in flight", async () => {
    const { clock, handler, queue } = setup(1);
    queue.add("a");
    queue.add("b");
    queue.addAfter("c", 100);
    await settle();
    let drained = false;
    const done = queue.shutdown().then(() => {
      drained = true;
    });
    queue.add("d");
    await settle();
    assert.equal(drained, false);
    await handler.finish("a");
    await done;
    assert.equal(drained, true);
    await clock.advance(1000);
    assert.deepEqual(handler.calls, ["a"]);
    assert.equal(clock.pending, 0);
  });

  it("counts the keys waiting as its depth", async () => {
    const { handler, queue } = setup(1);
    queue.add("a");
    queue.add("b");
    queue.add("c");
    await settle();
    assert.equal(queue.depth, 2);
    await handler.finish("a");
    assert.equal(queue.depth, 1);
  });
});

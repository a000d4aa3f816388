// Refusing early: the load the shared watch sees, and /execute's 429 when the runs ahead cannot
// finish within the caller's wait.
import assert from "node:assert/strict";
import type { ScriptRun } from "../crds/schema.js";
import { MIN_UNDER_WAY } from "./admission.js";
import { Capacity } from "./capacity.js";
import { type TestApp, testApp } from "./testkit.js";

const run = (name: string, phase?: "Pending" | "Running" | "Succeeded", finishedAt?: number, createdAt?: number): ScriptRun =>
  ({ metadata: { name, namespace: "default", ...(createdAt !== undefined ? { creationTimestamp: new Date(createdAt).toISOString() } : {}) },
    spec: { script: "x" },
    ...(phase ? { status: { phase, ...(finishedAt !== undefined ? { finishedAt: new Date(finishedAt).toISOString() } : {}) } } : {}) });

describe("the capacity the shared watch sees", () => {
  it("knows no rate until runs have been seen finishing, and counts only those it saw finish", () => {
    const clock = { now: 0 };
    const capacity = new Capacity(() => clock.now);
    // A list of runs that finished long ago is no burst of completions.
    clock.now = 3_600_000;
    for (let i = 0; i < 10; i++) capacity.observe(`default/old-${i}`, run(`old-${i}`, "Succeeded", i * 1000));
    assert.equal(capacity.load(), undefined);
    for (let i = 0; i < 10; i++) capacity.observe(`default/r-${i}`, run(`r-${i}`));
    assert.equal(capacity.pending, 10);
    for (let i = 0; i < 5; i++) {
      clock.now += 2000;
      capacity.observe(`default/r-${i}`, run(`r-${i}`, "Succeeded"));
    }
    // 5 finished in the 10 s since they were first seen (0.5/s), under way 2, 4, 6, 8 and 10 s: 3 at a time.
    assert.equal(capacity.pending, 5);
    assert.deepEqual(capacity.load(), { perSecond: 0.5, concurrency: 3 });
    capacity.observe("default/r-9", undefined);
    assert.equal(capacity.pending, 4);
    // The runs it shows, finished or not; not those deleted.
    assert.deepEqual(["default/r-0", "default/r-8", "default/r-9"].map((k) => capacity.knows(k)), [true, true, false]);
  });

  it("learns the recent rate from the finishedAt of runs it first lists finished", () => {
    const clock = { now: 600_000 };
    const capacity = new Capacity(() => clock.now);
    // Each created 3 s before it finished, one finishing every 2 s: busy from 23 s to 2 s before the list.
    for (let i = 0; i < 10; i++) {
      const finishedAt = clock.now - 20_000 + i * 2000;
      capacity.observe(`default/r-${i}`, run(`r-${i}`, "Succeeded", finishedAt, finishedAt - 3000));
    }
    capacity.observe("default/again", run("again", "Pending"));
    // 10 finished in 21 s of busy time, each under way 3 s.
    assert.deepEqual(capacity.load(), { perSecond: 10 / 21, concurrency: 30 / 21 });
    assert.equal(capacity.pending, 1);
  });

  it("knows how long 95% of the recent runs took from creation to their end", () => {
    const clock = { now: 600_000 };
    const capacity = new Capacity(() => clock.now);
    for (let i = 1; i <= 20; i++) capacity.observe(`default/r-${i}`, run(`r-${i}`, "Succeeded", clock.now - 1000, clock.now - 1000 - i * 1000));
    assert.equal(capacity.slowSeconds(), 19);
    capacity.observe("default/slowest", run("slowest", "Succeeded", clock.now, clock.now - 100_000));
    assert.equal(capacity.slowSeconds(), 20);
    // Ten quick ones finish later; once the first twenty are out of the window, only they count.
    for (let i = 1; i <= 10; i++) capacity.observe(`default/q-${i}`, run(`q-${i}`, "Succeeded", clock.now + 60_000, clock.now + 60_000 - i * 100));
    assert.equal(capacity.slowSeconds(), 20);
    clock.now += 5 * 60_000 + 1;
    assert.equal(capacity.slowSeconds(), 1);
    clock.now += 60_000;
    assert.equal(capacity.slowSeconds(), undefined);
  });

  it("knows how long the recent runs waited from their creation to their script's start (the median)", () => {
    const clock = { now: 600_000 };
    const capacity = new Capacity(() => clock.now);
    const at = (ms: number) => new Date(ms).toISOString();
    for (let i = 1; i <= 5; i++) capacity.observe(`default/r-${i}`, run(`r-${i}`, "Succeeded", clock.now - 1000, clock.now - 60_000));
    assert.equal(capacity.startWaitSeconds(), undefined, "no status says when its script started");
    for (let i = 1; i <= 5; i++) {
      const started = run(`s-${i}`, "Succeeded", clock.now - 1000, clock.now - 60_000);
      started.status!.startedAt = at(clock.now - 60_000 + i * 10_000);
      capacity.observe(`default/s-${i}`, started);
    }
    assert.equal(capacity.startWaitSeconds(), 30);
  });

  it("takes its rate from the time runs were under way, not from the clock: runs asked for a minute apart are no slow node", () => {
    const clock = { now: 0 };
    const capacity = new Capacity(() => clock.now);
    for (let i = 0; i < 5; i++) {
      clock.now = i * 60_000;
      capacity.observe(`default/r-${i}`, run(`r-${i}`, "Pending", undefined, clock.now));
      clock.now += 1000;
      capacity.observe(`default/r-${i}`, run(`r-${i}`, "Succeeded", undefined, clock.now - 1000));
    }
    clock.now += 9000;
    capacity.observe("default/next", run("next", "Pending", undefined, clock.now));
    // 5 runs of 1 s each: 1 run/s while busy, one at a time; not one every minute.
    assert.deepEqual(capacity.load(), { perSecond: 1, concurrency: 1 });
  });

  it("forgets completions older than its window", () => {
    const clock = { now: 0 };
    const capacity = new Capacity(() => clock.now);
    for (let i = 0; i < 6; i++) {
      capacity.observe(`default/r-${i}`, run(`r-${i}`));
      capacity.observe(`default/r-${i}`, run(`r-${i}`, "Succeeded"));
    }
    assert.ok(capacity.load() !== undefined);
    clock.now += 6 * 60_000;
    assert.equal(capacity.load(), undefined);
  });
});

describe("an /execute call the runs ahead leave no time for", () => {
  let t: TestApp;
  beforeEach(() => {
    t = testApp({ env: { SCRIPTRUN_API_MAX_WAIT_SECONDS: "10" } });
  });
  afterEach(() => t.close());

  /** Runs finished one a second lately, one after the other, and `ahead` are still to run. */
  function aheadAtOnePerSecond(ahead: number): void {
    const clock = { now: Date.now() };
    Object.assign(t.waiter, { capacity: new Capacity(() => clock.now) });
    for (let i = 0; i < 6; i++) {
      t.waiter.capacity.observe(`default/done-${i}`, run(`done-${i}`));
      clock.now += 1000;
      t.waiter.capacity.observe(`default/done-${i}`, run(`done-${i}`, "Succeeded"));
    }
    for (let i = 0; i < ahead; i++) t.waiter.capacity.observe(`default/ahead-${i}`, run(`ahead-${i}`, "Pending"));
  }

  it("is answered 429 with Retry-After at once, and nothing is created", async () => {
    aheadAtOnePerSecond(30);
    const before = t.store.runs.size;
    const res = await t.http.post("/execute").send({ script: "def main():\n    return 1\n" });
    assert.equal(res.status, 429, JSON.stringify(res.body));
    assert.equal(res.body.error.type, "over_capacity");
    assert.equal(res.body.error.message, "30 runs are ahead; at the recent rate a new run would finish in about 31 s, past the 10 s wait. " +
      "Retry later, or submit it with POST /runs");
    // 6 finished in 6 s under way (1/s), 30 ahead: done in 31 s, 22 s past 9 s, the wait less its headroom.
    assert.equal(res.headers["retry-after"], "22");
    assert.equal(t.store.runs.size, before);
    assert.match((await t.http.get("/metrics")).text, /^scriptrun_api_refused_over_capacity_total\{when="arrival"\} 1$/m);
    // POST /runs waits for nothing: it is still accepted, and queued by the controller.
    assert.equal((await t.http.post("/runs").send({ script: "def main():\n    return 1\n" })).status, 202);
  });

  it("is refused too when the runs ahead would fill all but the last tenth of the wait, not only past it", async () => {
    // 9 ahead at 1/s: done in 10 s, within the 10 s wait but past its 9 s less headroom.
    aheadAtOnePerSecond(9);
    const res = await t.http.post("/execute").send({ script: "def main():\n    return 1\n" });
    assert.equal(res.status, 429, JSON.stringify(res.body));
    assert.equal(res.headers["retry-after"], "1");
  });

  it("says how many runs are ahead, and runs a call with none ahead whatever its wait", async () => {
    aheadAtOnePerSecond(1);
    const one = await t.http.post("/execute").send({ script: "def main():\n    return 1\n", waitSeconds: 1 });
    assert.equal(one.body.error.message, "1 run is ahead; at the recent rate a new run would finish in about 2 s, past the 1 s wait. " +
      "Retry later, or submit it with POST /runs");
    // Runs of a second each lately: the call's own script may take a millisecond, and a retry would
    // find the node as it is.
    aheadAtOnePerSecond(0);
    const none = await t.http.post("/execute").send({ script: "def main():\n    return 1\n", waitSeconds: 1 });
    assert.equal(none.status, 200, JSON.stringify(none.body));
  });

  it("is run when the rate is not known yet", async () => {
    for (let i = 0; i < 30; i++) t.waiter.capacity.observe(`default/ahead-${i}`, run(`ahead-${i}`, "Pending"));
    const res = await t.http.post("/execute").send({ script: "def main():\n    return 1\n" });
    assert.equal(res.status, 200);
  });
});

describe("an /execute call that comes to a full node, with SCRIPTRUN_API_HOLD_WHEN_FULL", () => {
  let t: TestApp;
  /** What the shared watch would say: 100 runs a second lately, one at a time, each waiting 30 s to
   * start (a full node), and `pending` runs under way: as many as admission holds no call below. */
  const load = { pending: MIN_UNDER_WAY };
  beforeEach(() => {
    t = testApp({ env: { SCRIPTRUN_API_HOLD_WHEN_FULL: "true" } });
    load.pending = MIN_UNDER_WAY;
    Object.assign(t.waiter, {
      capacity: {
        observe() {},
        load: () => ({ perSecond: 100, concurrency: 1 }),
        slowSeconds: () => 0,
        startWaitSeconds: () => 30,
        knows: () => false,
        get pending() { return load.pending; },
      },
    });
  });
  afterEach(() => t.close());

  /** A run ahead finished: the watch tells it. */
  function oneAheadFinished(): void {
    load.pending--;
    t.waiter.changed(run("ahead-0", "Succeeded"));
  }

  it("is not held without SCRIPTRUN_API_HOLD_WHEN_FULL: its run is made at once, as the default", async () => {
    const plain = testApp();
    try {
      Object.assign(plain.waiter, { capacity: (t.waiter as { capacity: unknown }).capacity });
      const res = await plain.http.post("/execute").send({ script: "def main():\n    return 1\n" });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(plain.waiter.admission.holding, 0);
    } finally {
      await plain.close();
    }
  });

  it("is held with no run made, and its run is made once a run ahead finishes", async () => {
    const answer = t.http.post("/execute").send({ script: "def main():\n    return 1\n" }).then((res) => res);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(t.waiter.admission.holding, 1);
    assert.equal(t.store.runs.size, 0);
    assert.match((await t.http.get("/metrics")).text, /^scriptrun_api_execute_held 1$/m);
    oneAheadFinished();
    const res = await answer;
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.result, "ok");
    assert.equal(t.store.runs.size, 1);
  });

  it("waits for its run only what is left of its wait once it was held", async function () {
    this.timeout(10_000);
    t.store.outcome = () => undefined;
    const started = performance.now();
    const answer = t.http.post("/execute").send({ script: "def main():\n    return 1\n", waitSeconds: 3 }).then((res) => res);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    oneAheadFinished();
    const res = await answer;
    assert.equal(res.status, 504, JSON.stringify(res.body));
    // Held 1 s, then 2 s for its run: 3 s in all, not 1 + 3.
    assert.ok(performance.now() - started < 3700, `answered after ${Math.round(performance.now() - started)} ms`);
  });

  it("makes no run when its wait ran out before the run could be made", async function () {
    this.timeout(10_000);
    // Admission let it through just as its 1 s wait ran out (held, then a slow preflight).
    const { admission } = t.waiter;
    Object.assign(admission, {
      enter: async () => {
        await new Promise((resolve) => setTimeout(resolve, 1100));
        return t.waiter.reserve();
      },
    });
    const res = await t.http.post("/execute").send({ script: "def main():\n    return 1\n", waitSeconds: 1 });
    assert.equal(res.status, 429, JSON.stringify(res.body));
    assert.equal(res.body.error.type, "over_capacity");
    assert.match(res.body.error.message, /^The 1 s wait ran out before a run could be made for it; nothing was created/);
    assert.equal(t.store.runs.size, 0);
    assert.equal(t.waiter.inFlight, 0);
  });
});

import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { createMetrics } from "./metrics.js";
import { type SlotView, Slots } from "./slots.js";
import { T0, aRun } from "./testkit.js";

describe("the slots of this controller", () => {
  /** `open`: what the informers' count of open runs says (openRuns.ts). */
  function setup(view: SlotView[], caps = { maxConcurrentRuns: 1, maxConcurrentRunsPerNamespace: 1 },
    open = { queued: true, total: view.length, inNamespace: view.length }) {
    const woken: string[] = [];
    const metrics = createMetrics(new Registry());
    const looks = { count: 0 };
    const slots = new Slots(caps, metrics, () => {
      looks.count++;
      return view;
    }, (key) => woken.push(key), { anyQueued: () => open.queued, atMost: () => ({ total: open.total, inNamespace: open.inNamespace }) });
    return { woken, metrics, slots, looks };
  }
  const a = aRun("a", {}, { createdMs: T0 });
  const b = aRun("b", {}, { createdMs: T0 + 1000 });

  it("counts a slot reserved here although the cache shows no pod yet", () => {
    const { slots } = setup([{ key: "default/a", run: a, pod: "none" }, { key: "default/b", run: b, pod: "none" }]);
    assert.deepEqual(slots.plan().decisions.get("default/a"), { admit: true });
    slots.reserve("default/a", a, T0);
    assert.equal(slots.plan().held, 1);
    assert.deepEqual(slots.plan().decisions.get("default/b"), { admit: false, position: 1 });
  });

  it("wakes the run a released slot admits, and keeps the gauges", async () => {
    const { slots, woken, metrics } = setup([{ key: "default/a", run: a, pod: "none" }, { key: "default/b", run: b, pod: "none" }]);
    slots.reserve("default/a", a, T0);
    slots.wake();
    assert.deepEqual(woken, []);
    assert.equal((await metrics.runsQueued.get()).values[0]?.value, 1);
    assert.equal(slots.release("default/a"), true);
    assert.equal(slots.release("default/a"), false);
    slots.wake();
    assert.deepEqual(woken, ["default/a"]);
  });

  it("admits a run without a look at each open run while they all fit both caps", () => {
    const caps = { maxConcurrentRuns: 2, maxConcurrentRunsPerNamespace: 2 };
    const view: SlotView[] = [{ key: "default/a", run: a, pod: "live" }, { key: "default/b", run: b, pod: "none" }];
    const fits = setup(view, caps);
    assert.deepEqual(fits.slots.admits("default/b", "default"), { admit: true });
    assert.equal(fits.looks.count, 0);
    const full = setup(view, { maxConcurrentRuns: 1, maxConcurrentRunsPerNamespace: 2 });
    assert.deepEqual(full.slots.admits("default/b", "default"), { admit: false, position: 1 });
    const fullHere = setup(view, { maxConcurrentRuns: 2, maxConcurrentRunsPerNamespace: 1 });
    assert.deepEqual(fullHere.slots.admits("default/b", "default"), { admit: false, position: 1 });
  });

  it("wakes nobody, without a look at each open run, when none waits Queued", () => {
    const { slots, woken, looks } = setup([{ key: "default/b", run: b, pod: "none" }], undefined, { queued: false, total: 1, inNamespace: 1 });
    slots.wake();
    assert.deepEqual([woken, looks.count], [[], 0]);
  });

  it("tells when this very run was reserved, and drops a reservation of an earlier run of the same name", () => {
    const { slots } = setup([]);
    slots.reserve("default/a", a, T0 + 5);
    assert.equal(slots.reservedAt("default/a", a), T0 + 5);
    const successor = aRun("a");
    assert.equal(slots.reservedAt("default/a", successor), undefined);
    assert.equal(slots.reservedAt("default/a", a), undefined);
  });
});

import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { createMetrics } from "./metrics.js";
import { type SlotView, Slots } from "./slots.js";
import { T0, aRun } from "./testkit.js";

describe("the slots of this controller", () => {
  function setup(view: SlotView[], caps = { maxConcurrentRuns: 1, maxConcurrentRunsPerNamespace: 1 }) {
    const woken: string[] = [];
    const metrics = createMetrics(new Registry());
    return { woken, metrics, slots: new Slots(caps, metrics, () => view, (key) => woken.push(key)) };
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

  it("tells when this very run was reserved, and drops a reservation of an earlier run of the same name", () => {
    const { slots } = setup([]);
    slots.reserve("default/a", a, T0 + 5);
    assert.equal(slots.reservedAt("default/a", a), T0 + 5);
    const successor = aRun("a");
    assert.equal(slots.reservedAt("default/a", successor), undefined);
    assert.equal(slots.reservedAt("default/a", a), undefined);
  });
});

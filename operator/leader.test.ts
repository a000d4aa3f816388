import assert from "node:assert/strict";
import { V1MicroTime } from "@kubernetes/client-node";
import { heldBy, mayHold, observe } from "./leader.js";

const T = Date.parse("2025-06-01T12:00:00Z");

describe("leader election decisions", () => {
  it("takes a lease nobody holds", () => {
    const seen = observe(undefined, undefined, T);
    assert.equal(mayHold(undefined, "me", seen, T, 15), true);
    assert.equal(mayHold({ holderIdentity: "" }, "me", seen, T, 15), true);
  });

  it("keeps renewing its own lease", () => {
    const spec = { holderIdentity: "me", leaseDurationSeconds: 15, renewTime: new V1MicroTime(T - 60_000) };
    assert.equal(mayHold(spec, "me", observe(spec, undefined, T), T, 15), true);
  });

  it("leaves another holder's lease alone while it is renewed", () => {
    let seen = observe({ holderIdentity: "other", leaseDurationSeconds: 15, renewTime: new V1MicroTime(T) }, undefined, T);
    const renewed = { holderIdentity: "other", leaseDurationSeconds: 15, renewTime: new V1MicroTime(T + 10_000) };
    seen = observe(renewed, seen, T + 10_000);
    assert.equal(mayHold(renewed, "me", seen, T + 20_000, 15), false);
  });

  it("takes over a lease whose holder stopped renewing for a whole lease duration, by its own clock", () => {
    // The holder's clock is far ahead; only the time since this replica saw a change counts.
    const spec = { holderIdentity: "other", leaseDurationSeconds: 15, renewTime: new V1MicroTime(T + 3_600_000) };
    const seen = observe(spec, undefined, T);
    assert.equal(mayHold(spec, "me", observe(spec, seen, T + 14_000), T + 14_000, 15), false);
    assert.equal(mayHold(spec, "me", observe(spec, seen, T + 15_000), T + 15_000, 15), true);
  });

  it("reads renew times whether they arrive as strings or dates", () => {
    const asDate = observe({ holderIdentity: "o", renewTime: new V1MicroTime(T) }, undefined, T);
    const asString = observe({ holderIdentity: "o", renewTime: "2025-06-01T12:00:00.000000Z" as unknown as V1MicroTime }, asDate, T + 5000);
    assert.equal(asString, asDate);
  });

  it("counts a transition when the holder changes, not when it renews", () => {
    const taken = heldBy({ holderIdentity: "other", leaseTransitions: 4 }, "me", T, 15);
    assert.equal(taken.holderIdentity, "me");
    assert.equal(taken.leaseTransitions, 5);
    assert.equal(taken.acquireTime?.toISOString(), "2025-06-01T12:00:00.000000Z");
    const renewed = heldBy(taken, "me", T + 2000, 15);
    assert.equal(renewed.leaseTransitions, 5);
    assert.equal(renewed.acquireTime, taken.acquireTime);
    assert.equal(renewed.renewTime?.toISOString(), "2025-06-01T12:00:02.000000Z");
    assert.equal(heldBy(undefined, "me", T, 15).leaseTransitions, 0);
  });
});

import assert from "node:assert/strict";
import { tally } from "./overload.js";

describe("an overload burst's figures", () => {
  it("count right, wrong, refused, timed-out and other answers, and the longest answered and refused waits", () => {
    const burst = tally([
      { status: 200, right: true, ms: 900 }, { status: 200, right: false, ms: 1200 }, { status: 429, right: false, ms: 40 },
      { status: 429, right: false, ms: 60 }, { status: 504, right: false, ms: 60_000 }, { status: 503, right: false, ms: 5 },
    ], { api: 123.44, controller: 150 });
    assert.deepEqual(burst, {
      calls: 6, right: 1, wrong: 1, refused: 2, timedOut: 1, other: 1, answeredMaxMs: 1200, refusedP50Ms: 50, refusedMaxMs: 60,
      apiRssMiB: 123.4, controllerRssMiB: 150,
    });
  });

  it("has no wait figures when no call was answered or refused", () => {
    const burst = tally([{ status: 504, right: false, ms: 60_000 }], { api: 1, controller: 1 });
    assert.deepEqual([burst.answeredMaxMs, burst.refusedP50Ms], [null, null]);
  });
});

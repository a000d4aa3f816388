// The playground's Run button runs one run at a time, from the press until its outcome shows: a
// second Ctrl+Enter while POST /runs is on its way starts nothing. The page itself is driven in
// real browsers by test/e2e/playground.test.ts.
import assert from "node:assert/strict";
import { OneRun } from "./src/oneRun.js";

/** A POST /runs the test answers when it likes. */
function post(name: string): { begin: () => Promise<string>; answer: () => void; fail: (err: Error) => void; sent: () => boolean } {
  let sent = false;
  let answer = () => {};
  let fail = (_err: Error) => {};
  const begin = () => {
    sent = true;
    return new Promise<string>((resolve, reject) => {
      answer = () => resolve(name);
      fail = reject;
    });
  };
  return { begin, answer: () => answer(), fail: (err) => fail(err), sent: () => sent };
}

describe("the playground's Run button", () => {
  it("starts nothing when pressed again while POST /runs is on its way, and waits for the first run", async () => {
    const waiting = new OneRun<string>();
    const first = post("run-first");
    const second = post("run-second");
    const started = waiting.start(first.begin);
    const pressedAgain = waiting.start(second.begin);
    assert.equal(second.sent(), false);
    assert.equal(await pressedAgain, undefined);
    first.answer();
    assert.equal(await started, "run-first");
    assert.equal(waiting.waitingFor, "run-first");
    const pressedLater = waiting.start(second.begin);
    assert.equal(second.sent(), false);
    assert.equal(await pressedLater, undefined);
  });

  it("is free again once the run's outcome showed, or its start failed", async () => {
    const waiting = new OneRun<string>();
    const refused = post("run-refused");
    const started = waiting.start(refused.begin);
    refused.fail(new Error("503 cluster_unavailable"));
    await assert.rejects(started, /503/);
    assert.deepEqual([waiting.busy, waiting.waitingFor], [false, undefined]);

    const next = post("run-next");
    const again = waiting.start(next.begin);
    assert.ok(waiting.busy);
    next.answer();
    assert.equal(await again, "run-next");
    waiting.finish();
    assert.deepEqual([waiting.busy, waiting.waitingFor], [false, undefined]);
    const last = post("run-last");
    void waiting.start(last.begin);
    assert.equal(last.sent(), true);
  });
});

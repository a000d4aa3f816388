import assert from "node:assert/strict";
import { within } from "./time.js";

describe("a deadline on a promise", () => {
  it("gives what the promise settles to in time, and fails, naming what, when it does not", async () => {
    assert.equal(await within(Promise.resolve(7), 50, "answer"), 7);
    await assert.rejects(within(Promise.reject(new Error("refused")), 50, "answer"), /refused/);
    await assert.rejects(within(new Promise(() => undefined), 20, "attach"), /^Error: no attach within 20 ms$/);
  });
});

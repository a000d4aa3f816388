import assert from "node:assert/strict";
import { firstInexactInteger, inexactIntegerReason, mayHoldInexactInteger } from "./exactJson.js";

describe("integers that JSON readers round", () => {
  it("finds the first integer beyond ±(2^53 - 1), as written, wherever it sits", () => {
    assert.equal(firstInexactInteger("[9007199254740992]"), "9007199254740992");
    assert.equal(firstInexactInteger('{"args": [1, {"n": -9007199254740992}], "x": 12345678901234567890}'), "-9007199254740992");
    assert.equal(firstInexactInteger('{"a":"x\\\\","b":123456789012345678901}'), "123456789012345678901");
  });

  it("takes the largest exact integers, floats, and digits inside strings", () => {
    for (const text of ["[9007199254740991, -9007199254740991, 0, -0]", "[12345678901234567890.5, 1e300, 12345678901234567890e0, 1E+20]",
      '{"12345678901234567890": "12345678901234567890", "s": "a \\" 12345678901234567890 \\""}', "[true, false, null]"]) {
      assert.equal(firstInexactInteger(text), undefined, text);
    }
  });

  it("shows a long integer cut, and says when no double holds it", () => {
    const huge = `-${"9".repeat(400)}`;
    assert.equal(firstInexactInteger(`[${huge}]`), huge);
    assert.equal(inexactIntegerReason(huge), `the integer -${"9".repeat(39)}… (400 digits) is beyond ±9007199254740991 (2^53 - 1), `
      + "which JSON readers such as JavaScript's cannot hold at all; send it as a string");
  });

  it("says what the integer would become, and what to send instead", () => {
    assert.equal(inexactIntegerReason("12345678901234567890"),
      "the integer 12345678901234567890 is beyond ±9007199254740991 (2^53 - 1), which JSON readers such as JavaScript's round (to 12345678901234567000); send it as a string");
  });

  it("tells a parsed value that may hold a rounded integer: a whole number beyond ±(2^53 - 1), however deep", () => {
    assert.deepEqual([9007199254740991, -9007199254740991, 1.5, "12345678901234567890", null, [1, { a: 2 }], Infinity].map(mayHoldInexactInteger),
      [false, false, false, false, false, false, false]);
    assert.deepEqual([9007199254740992, -1e300, [[{ n: 12345678901234567890 }]], { a: [1, 2 ** 60] }].map(mayHoldInexactInteger), [true, true, true, true]);
  });
});

import assert from "node:assert/strict";
import { firstInexactInteger, inexactIntegerReason } from "./exactJson.js";

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
});

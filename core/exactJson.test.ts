import assert from "node:assert/strict";
import { firstInexactNumber, inexactNumberReason, mayHoldInexactInteger } from "./exactJson.js";

describe("numbers that JSON readers change", () => {
  it("finds the first integer a double does not hold exactly, as written, wherever it sits", () => {
    assert.equal(firstInexactNumber("[9007199254740993]"), "9007199254740993");
    assert.equal(firstInexactNumber('{"args": [1, {"n": -9007199254740993}], "x": 12345678901234567890}'), "-9007199254740993");
    assert.equal(firstInexactNumber('{"a":"x\\\\","b":123456789012345678901}'), "123456789012345678901");
  });

  it("finds a number past the largest double, however written", () => {
    assert.equal(firstInexactNumber("[1, 1e400]"), "1e400");
    assert.equal(firstInexactNumber("[-1.5E+0309]"), "-1.5E+0309");
    assert.equal(firstInexactNumber(`[${"9".repeat(400)}.5]`), `${"9".repeat(400)}.5`);
  });

  it("takes integers a double holds exactly, floats, and digits inside strings", () => {
    for (const text of ["[9007199254740991, -9007199254740991, 9007199254740992, 9007199254740994, 100000000000000000000, 0, -0]",
      "[12345678901234567890.5, 1e300, 1.7976931348623157e308, 1e-400, 12345678901234567890e0, 1E+20]",
      '{"12345678901234567890": "12345678901234567890", "s": "a \\" 12345678901234567890 1e400 \\""}', "[true, false, null]"]) {
      assert.equal(firstInexactNumber(text), undefined, text);
    }
  });

  it("shows a long literal cut", () => {
    const huge = `-${"9".repeat(400)}`;
    assert.equal(firstInexactNumber(`[${huge}]`), huge);
    assert.equal(inexactNumberReason(huge), `the number -${"9".repeat(39)}… (400 characters) would become null: `
      + "JSON readers such as JavaScript's read numbers as doubles, which end at ±1.7976931348623157e+308; send it as a string");
  });

  it("says what the number would become, and what to send instead", () => {
    assert.equal(inexactNumberReason("12345678901234567890"), "the integer 12345678901234567890 would become 12345678901234567000: "
      + "JSON readers such as JavaScript's read numbers as doubles, which hold every integer up to ±9007199254740991 (2^53 - 1) "
      + "but not every one past it; send it as a string");
    assert.match(inexactNumberReason("1e400"), /^the number 1e400 would become null: /);
  });

  it("tells a parsed value that may hold a changed integer: a whole number beyond ±(2^53 - 1), however deep", () => {
    assert.deepEqual([9007199254740991, -9007199254740991, 1.5, "12345678901234567890", null, [1, { a: 2 }], Infinity].map(mayHoldInexactInteger),
      [false, false, false, false, false, false, false]);
    assert.deepEqual([9007199254740992, -1e300, [[{ n: 12345678901234567890 }]], { a: [1, 2 ** 60] }].map(mayHoldInexactInteger), [true, true, true, true]);
    const deep = JSON.parse(`${"[".repeat(100_000)}1e20${"]".repeat(100_000)}`) as unknown;
    assert.equal(mayHoldInexactInteger(deep), true);
  });
});

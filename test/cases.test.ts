// The case checker is what every level's case tests rest on: it must refuse
// outcomes that differ from a case's expectations, not only accept good ones.
import assert from "node:assert/strict";
import { assertMatchesCase, loadCases, type BehaviourCase } from "./cases.js";

const byName = (name: string): BehaviourCase => {
  const found = loadCases().find((c) => c.name === name);
  assert.ok(found, `no case named ${name}`);
  return found;
};

describe("the behaviour case checker", () => {
  it("reads every case with a request script and expectations", () => {
    const cases = loadCases();
    assert.ok(cases.length >= 30);
    for (const c of cases) assert.ok(typeof c.request.script === "string" && c.expect, c.name);
  });

  it("accepts an outcome that matches", () => {
    assertMatchesCase(byName("dict-result"), { success: true, result: { message: "done" }, stdout: "hello world\n" }, 1);
  });

  it("refuses a wrong result, a wrong error type, a missing line and a slow run", () => {
    assert.throws(() => assertMatchesCase(byName("hello-main"), { success: true, result: "Hello", stdout: "" }, 1));
    assert.throws(() => assertMatchesCase(byName("infinite-loop"),
      { success: false, error: { type: "runtime_error", message: "" } }, 1));
    assert.throws(() => assertMatchesCase(byName("syntax-error"),
      { success: false, error: { type: "syntax_error", message: "" } }, 1));
    assert.throws(() => assertMatchesCase(byName("infinite-loop"),
      { success: false, error: { type: "timeout", message: "" } }, 25));
    assert.throws(() => assertMatchesCase(byName("big-but-allowed-output"),
      { success: true, result: "ok", stdout: "1\n2\n" }, 1));
  });
});

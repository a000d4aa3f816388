import assert from "node:assert/strict";
import { finishedStatus, summarize } from "./runStatus.js";
import { cutToBytes, fitOutput, jsonBytes } from "./statusBudget.js";
import { T0, aRun } from "./testkit.js";

describe("fitting a run's outcome into what etcd stores", () => {
  it("keeps everything that fits", () => {
    const output = { result: { a: 1 }, stdout: "out", stderr: "err" };
    assert.deepEqual(fitOutput(output, 1000), output);
  });

  it("gives each stream half of what is left, and marks what it cut", () => {
    // 59 bytes left after the result: 29 each, quotes included.
    const fitted = fitOutput({ result: 1, stdout: "x".repeat(100), stderr: "y".repeat(100) }, 60);
    assert.equal(fitted.stdout, "x".repeat(27));
    assert.equal(fitted.stdoutTruncated, true);
    assert.equal(fitted.stderr, "y".repeat(27));
    assert.equal(fitted.stderrTruncated, true);
  });

  it("keeps a short stderr whole beside a flood on stdout, which gets the rest", () => {
    const fitted = fitOutput({ result: 1, stdout: "x".repeat(1000), stderr: "warning: careful" }, 100);
    assert.equal(fitted.stderr, "warning: careful");
    assert.equal(fitted.stderrTruncated, undefined);
    assert.equal(fitted.stdout, "x".repeat(99 - 18 - 2));
    assert.equal(fitted.stdoutTruncated, true);
  });

  it("drops a result too big to store whole, saying how big it was", () => {
    const fitted = fitOutput({ result: "r".repeat(100), stdout: "out" }, 50);
    assert.ok(!("result" in fitted));
    assert.equal(fitted.resultBytes, 102);
    assert.equal(fitted.stdout, "out");
  });

  it("keeps the end of a long traceback, where the exception is", () => {
    const fitted = fitOutput({ traceback: `${"frame\n".repeat(30000)}ValueError: boom` }, 2 * 1024 * 1024);
    assert.ok(fitted.traceback!.endsWith("ValueError: boom"));
    assert.ok(jsonBytes(fitted.traceback) <= 64 * 1024);
  });

  it("counts JSON escapes and never splits a character", () => {
    assert.equal(cutToBytes('"""', 5), '"');
    assert.equal(cutToBytes("😀😀", 7), "😀");
    assert.equal(cutToBytes("日本語", 8), "日本");
  });

  it("counts what the apiserver's Go encoder escapes beyond JSON.stringify: <, >, & and U+2028, U+2029", () => {
    assert.equal(jsonBytes("<a&b>"), 2 + 5 + 3 * 5);
    assert.equal(jsonBytes("\u2028\u2029"), 2 + 2 * 6);
    // A megabyte of printed HTML is six in etcd, past its limit: the stdout is cut to fit.
    const fitted = fitOutput({ stdout: "<p>".repeat(350_000) }, 1024 * 1024);
    assert.equal(fitted.stdoutTruncated, true);
    assert.ok(jsonBytes(fitted.stdout) <= 1024 * 1024 && fitted.stdout!.length > 1024 * 1024 / 6 - 10);
  });

  it("fails a run whose result cannot fit beside its spec with output_limit", () => {
    const run = aRun("big", { script: "#".repeat(100_000) });
    const status = finishedStatus(run, { result: "r".repeat(100_000), stdout: "kept", finishedAt: "2025-06-01T12:00:00Z" },
      { maxObjectBytes: 200_000 }, T0);
    assert.equal(status.phase, "Failed");
    assert.equal(status.error?.type, "output_limit");
    assert.match(status.error!.message, /^The result is 100002 bytes/);
    assert.equal(status.stdout, "kept");
  });
});

describe("the printer column summary", () => {
  it("shows a short result as JSON", () => {
    assert.equal(summarize({ result: "Hello, World!" }), '"Hello, World!"');
    assert.equal(summarize({ result: undefined }), "null");
  });

  it("cuts a long result to about 60 characters", () => {
    const summary = summarize({ result: "x".repeat(500) });
    assert.equal(summary.length, 60);
    assert.ok(summary.endsWith("…"));
  });

  it("cuts before an emoji rather than between the halves of its pair", () => {
    // '"' then 57 x: the emoji's first half would be the 59th unit, the last before the ellipsis.
    for (const result of [`${"x".repeat(57)}😀😀`, `${"x".repeat(56)}😀😀`]) {
      const summary = summarize({ result });
      assert.doesNotMatch(summary, /[\ud800-\udbff](?![\udc00-\udfff])/, summary);
      assert.ok(summary.length >= 59 && summary.endsWith("…"), summary);
    }
  });

  it("shows the error type and the first line of its message", () => {
    assert.equal(summarize({ error: { type: "timeout", message: "Too slow\nmore", suggestions: [], availableFunctions: [] } }), "timeout: Too slow");
  });
});

// How the command line prints runs, runtimes, errors and its status line.
import assert from "node:assert/strict";
import type { RunSummary } from "./backend.js";
import { age, duration, errorText, runTable, runtimeTable, structured } from "./format.js";
import { Progress, statusLine } from "./progress.js";

const NOW = Date.parse("2026-12-01T12:00:00Z");
const summary = (over: Partial<RunSummary>): RunSummary => ({
  name: "run-a", namespace: "default", phase: "Succeeded", createdAt: "2026-12-01T11:59:30Z", summary: "42", durationMs: 203, cancelRequested: false, ...over,
});

describe("the command line's output", () => {
  it("prints runs as kubectl prints a table, the summary cut unless wide", () => {
    const long = `{"rows": [${"1, ".repeat(40)}1]}`;
    assert.equal(runTable([summary({}), summary({ name: "run-bb", phase: null, summary: null, durationMs: null, createdAt: "2026-12-01T09:00:00Z" }),
      summary({ name: "run-c", summary: long, durationMs: 61_500 })], false, NOW), [
      "NAME     PHASE       DURATION   RESULT                                                         AGE",
      "run-a    Succeeded   203ms      42                                                             30s",
      "run-bb   Pending                                                                               3h",
      `run-c    Succeeded   1m1s       ${long.slice(0, 59)}…   30s`,
      "",
    ].join("\n"));
    const wide = runTable([summary({ summary: long, cancelRequested: true })], true, NOW);
    assert.match(wide, /^NAMESPACE   NAME    PHASE       DURATION   RESULT +CREATED +CANCEL-REQUESTED   AGE\n/);
    assert.ok(wide.includes(`${long}   2026-12-01T11:59:30Z   true               30s`), wide);
  });

  it("tells ages and durations as a person reads them", () => {
    assert.deepEqual([0, 119, 120, 7199, 7200, 48 * 3600 - 1, 48 * 3600].map((s) => age(new Date(NOW - s * 1000).toISOString(), NOW)),
      ["0s", "119s", "2m", "119m", "2h", "47h", "2d"]);
    assert.equal(age(null, NOW), "<unknown>");
    assert.deepEqual([0, 999, 1000, 2550, 59_999, 250_000].map(duration), ["0ms", "999ms", "1.0s", "2.5s", "60.0s", "4m10s"]);
    assert.equal(duration(null), "");
  });

  it("prints runtimes with their defaults and maxima", () => {
    const limits = { timeoutSeconds: 10, cpu: "500m", memory: "256Mi", pids: 64, outputBytes: 1048576 };
    const maxima = { timeoutSeconds: 300, cpu: "2", memory: "2Gi", pids: 1024, outputBytes: 4194304 };
    const runtimes = [
      { name: "python", default: true, image: "localhost/scriptrun/runner:test", modules: [], defaults: limits, maxima },
      { name: "python-datascience", default: false, image: "localhost/scriptrun/runner-datascience:test", modules: ["sklearn", "scipy"], defaults: limits, maxima },
    ];
    assert.equal(runtimeTable(runtimes, false), [
      "NAME                 DEFAULT   DEFAULTS         MAXIMA       MODULES",
      "python               true      10s/500m/256Mi   300s/2/2Gi   -",
      "python-datascience             10s/500m/256Mi   300s/2/2Gi   sklearn,scipy",
      "",
    ].join("\n"));
    assert.match(runtimeTable(runtimes, true), /10s\/500m\/256Mi\/64\/1048576 .* localhost\/scriptrun\/runner:test\n/);
  });

  it("prints json and yaml", () => {
    assert.equal(structured({ a: [1, "x"] }, "json"), '{\n  "a": [\n    1,\n    "x"\n  ]\n}\n');
    assert.equal(structured({ a: [1, "x"] }, "yaml"), "a:\n  - 1\n  - x\n");
  });

  it("prints a run's error with where it happened, its traceback and its hints", () => {
    assert.equal(errorText({
      type: "runtime_error", message: "ZeroDivisionError: division by zero", line: 2,
      traceback: '  File "<script>", line 2, in main\nZeroDivisionError: division by zero\n', suggestions: ["Check the divisor"], availableFunctions: [],
    }), [
      "runtime_error: ZeroDivisionError: division by zero (line 2)",
      "Traceback (most recent call last):",
      '  File "<script>", line 2, in main',
      "ZeroDivisionError: division by zero",
      "hint: Check the divisor",
      "",
    ].join("\n"));
    assert.equal(errorText({ type: "missing_entrypoint", message: "no main", availableFunctions: ["helper", "mian"] }),
      "missing_entrypoint: no main\nthe script defines: helper, mian\n");
    assert.equal(errorText({ type: "syntax_error", message: "invalid syntax (line 1)", line: 1 }), "syntax_error: invalid syntax (line 1)\n");
  });
});

describe("the status line of a run", () => {
  it("says the phase, the place in the queue and the time since it was submitted", () => {
    assert.equal(statusLine("run-a", "Queued", 2, 3450), "run-a  Queued (position 2 in the queue)  3.5s");
    assert.equal(statusLine("run-a", "Running", undefined, 0), "run-a  Running  0.0s");
  });

  it("prints a plain line per change when standard error is not a terminal", () => {
    let written = "";
    let now = 1000;
    const progress = new Progress({ write: (t: string) => { written += t; } }, "run-a", 1000, () => now);
    progress.update("Pending", undefined);
    progress.update("Pending", undefined);
    now = 2500;
    progress.update("Queued", 1);
    now = 4000;
    progress.update("Running", undefined);
    progress.done();
    assert.equal(written, "run-a  Pending  0.0s\nrun-a  Queued (position 1 in the queue)  1.5s\nrun-a  Running  3.0s\n");
  });

  it("rewrites one line in place on a terminal, ticking, and clears it when done", async () => {
    let written = "";
    const progress = new Progress({ isTTY: true, write: (t: string) => { written += t; } }, "run-a", Date.now());
    progress.update("Running", undefined);
    await new Promise((r) => setTimeout(r, 250));
    progress.done();
    const frames = written.split("\r\x1b[K");
    assert.equal(frames[0], "");
    assert.ok(frames.length >= 4, `only ${frames.length - 1} frames`);
    assert.ok(frames.slice(1, -1).every((f) => /^run-a {2}Running {2}\d+\.\ds$/.test(f)), JSON.stringify(frames));
    assert.equal(frames.at(-1), "");
    assert.ok(!written.includes("\n"));
  });

  it("writes a note on a line of its own, above the status line on a terminal, after a line the script left unfinished", () => {
    let written = "";
    const plain = new Progress({ write: (t: string) => { written += t; } }, "run-a", 1000, () => 3000);
    plain.update("Running", undefined);
    written = "";
    plain.note("Lost the run's events");
    assert.equal(written, "Lost the run's events\n");
    const progress = new Progress({ isTTY: true, write: (t: string) => { written += t; } }, "run-a", 1000, () => 3000);
    progress.update("Running", undefined);
    const line = "run-a  Running  2.0s";
    written = "";
    progress.note("Lost the run's events");
    assert.equal(written, `\r\x1b[KLost the run's events\n\r\x1b[K${line}`);
    progress.around(() => { written += "50%"; }, false);
    written = "";
    progress.note("Lost the run's events");
    progress.done();
    assert.equal(written, `\nLost the run's events\n\r\x1b[K${line}\r\x1b[K`);
  });

  it("takes the status line away for the script's output and draws it again, but never over an unfinished line", () => {
    let written = "";
    const progress = new Progress({ isTTY: true, write: (t: string) => { written += t; } }, "run-a", 1000, () => 3000);
    progress.update("Running", undefined);
    const line = "run-a  Running  2.0s";
    written = "";
    progress.around(() => { written += "tick 0\n"; }, true);
    assert.equal(written, `\r\x1b[Ktick 0\n\r\x1b[K${line}`);
    written = "";
    progress.around(() => { written += "50%"; }, false);
    assert.equal(written, "\r\x1b[K50%", "no status line drawn over the unfinished line");
    written = "";
    progress.around(() => { written += "... done\n"; }, true);
    assert.equal(written, `... done\n\r\x1b[K${line}`, "the unfinished line is not cleared");
    written = "";
    progress.around(() => { written += "100%"; }, false);
    progress.done();
    assert.equal(written, "\r\x1b[K100%");
    written = "";
    progress.around(() => { written += "the rest\n"; }, true);
    assert.equal(written, "the rest\n", "no status line once done");
  });
});

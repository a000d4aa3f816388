// The chaos suite's rules: how a run's end is judged, which pods count as executions, and the
// figures and verdict of a scenario.
import assert from "node:assert/strict";
import { type PodTrace, type RunView, type Seen, executions, fateOf, table, tally } from "./tally.js";

const expected = { result: { n: 1 }, stdout: "chaos run 1\n" };
const succeeded = (over: Partial<RunView> = {}): RunView =>
  ({ uid: "u1", phase: "Succeeded", result: { n: 1 }, stdout: "chaos run 1\n", start: "warm", endedAt: 10_000, ...over });
const pod = (over: Partial<PodTrace>): PodTrace => ({ uid: over.name ?? "p", name: "p", runUid: "u1", started: true, unrun: false, ...over });
const seen = (runs: Record<string, RunView>, pods: PodTrace[] = [], unused: string[] = []): Seen =>
  ({ runs: new Map(Object.entries(runs)), pods, unusedPods: new Set(unused) });

describe("chaos: judging a run", () => {
  it("takes the script's own outcome or infrastructure_error, and nothing else", () => {
    assert.equal(fateOf(succeeded(), expected).fate, "ok");
    assert.equal(fateOf(succeeded({ phase: "Failed", error: { type: "infrastructure_error", message: "pod vanished" } }), expected).fate,
      "infrastructure_error");
    assert.deepEqual(fateOf(succeeded({ result: { n: 2 } }), expected), { fate: "wrong", why: 'returned {"n":2}' });
    assert.equal(fateOf(succeeded({ stdout: "" }), expected).fate, "wrong");
    assert.deepEqual(fateOf(succeeded({ phase: "Failed", error: { type: "runtime_error", message: "KeyError" } }), expected),
      { fate: "wrong", why: "failed with runtime_error: KeyError" });
  });

  it("calls a run that never finished stuck, and one that is gone lost", () => {
    assert.equal(fateOf(succeeded({ phase: "Running" }), expected).fate, "stuck");
    assert.equal(fateOf(succeeded({ phase: undefined }), expected).fate, "stuck");
    assert.equal(fateOf(undefined, expected).fate, "lost");
  });
});

describe("chaos: counting executions", () => {
  it("counts each started pod the run owned, less those said to have run nothing", () => {
    const pods = [
      pod({ name: "warm-a", unrun: true }),
      pod({ name: "warm-b" }),
      pod({ name: "run-runner" }),
      pod({ name: "never-started", started: false }),
      pod({ name: "another-run", runUid: "u2" }),
    ];
    assert.deepEqual(executions("u1", seen({}, pods, ["warm-b"])), ["run-runner"]);
    assert.deepEqual(executions("u1", seen({}, pods)), ["warm-b", "run-runner"]);
  });
});

describe("chaos: a scenario's figures", () => {
  const tracked = [{ name: "a-0", expected, acknowledged: true }, { name: "a-1", expected, acknowledged: true }];

  it("passes when every run ended once, and times recovery to the last end", () => {
    const figures = tally("s", "f", tracked, seen({
      "a-0": succeeded({ endedAt: 12_000 }),
      "a-1": succeeded({ uid: "u2", phase: "Failed", error: { type: "infrastructure_error", message: "gone" }, start: "cold", endedAt: 13_500 }),
    }, [pod({ name: "x" }), pod({ name: "y", runUid: "u2" })]), 10_000);
    assert.deepEqual({ ...figures, problems: undefined, notes: undefined }, {
      scenario: "s", fault: "f", runs: 2, warm: 1, cold: 1, lost: 0, duplicated: 0, stuck: 0, wrong: 0, infrastructureError: 1,
      recoverSeconds: 3.5, verdict: "pass", problems: undefined, notes: undefined,
    });
    assert.deepEqual(figures.notes, ["a-1 (cold): infrastructure_error: gone"]);
  });

  it("fails on a run executed twice, a run nobody asked for, a wrong or stuck one, and has no recovery while one never ends", () => {
    const figures = tally("s", "f", tracked, seen({
      "a-0": succeeded({ result: 7 }),
      "a-1": succeeded({ uid: "u2", phase: "Running", endedAt: undefined }),
      "stray": succeeded({ uid: "u3" }),
    }, [pod({ name: "x" }), pod({ name: "x2" })]), 10_000);
    assert.deepEqual([figures.duplicated, figures.wrong, figures.stuck, figures.recoverSeconds, figures.verdict], [2, 1, 1, null, "fail"]);
    assert.deepEqual(figures.problems, [
      "a-0: wrong: returned 7", "a-0: duplicated: ran in pods x, x2", "a-1: stuck: still Running", "stray: duplicated: a run nobody asked for",
    ]);
  });

  it("leaves out a run whose create an outage refused, but counts one that was taken and then lost", () => {
    const figures = tally("s", "f", [{ name: "refused", expected, acknowledged: false }, ...tracked], seen({ "a-0": succeeded() }), 10_000);
    assert.deepEqual([figures.runs, figures.lost, figures.verdict], [2, 1, "fail"]);
  });

  it("counts what the scenario flagged", () => {
    const figures = tally("s", "f", [], seen({}), 0, [{ fate: "duplicated", line: "retry got another run" }, { fate: "wrong", line: "answer" }]);
    assert.deepEqual([figures.duplicated, figures.wrong, figures.verdict], [1, 1, "fail"]);
  });

  it("prints a table with a row per scenario", () => {
    const figures = tally("controller-sigkill-x5", "f", tracked, seen({ "a-0": succeeded(), "a-1": succeeded({ uid: "u2" }) }), 10_000);
    const lines = table([figures]).split("\n");
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /^\| scenario +\| runs \| warm\/cold \| lost \| duplicated \| stuck \| wrong \| infrastructure_error \| recover s \| verdict \|$/);
    assert.match(lines[2]!, /^\| controller-sigkill-x5 \| 2 +\| 2\/0 +\| 0 +\| 0 +\| 0 +\| 0 +\| 0 +\| 0\.0 +\| pass +\|$/);
  });
});

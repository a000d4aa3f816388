// What `run` and `logs -f` print of a followed run's output, and of a follow that lost its way;
// how `run` ends on a failed run.
import assert from "node:assert/strict";
import type { Backend, Outcome, RunEvent } from "./backend.js";
import { type Io, OutputPrinter, logs, run } from "./commands.js";
import { EXIT } from "./errors.js";

function io(): Io & { out: string; err: string } {
  const io: Io & { out: string; err: string } = {
    out: "",
    err: "",
    stdout: { write: (text: string) => { io.out += text; } },
    stderr: { write: (text: string) => { io.err += text; } },
    now: () => 0,
    readStdin: async () => "",
  };
  return io;
}

describe("a followed run's output", () => {
  it("is printed as it comes, each byte once, then what the outcome has beyond it", () => {
    const streams = io();
    const printer = new OutputPrinter(streams);
    printer.output("stdout", 0, "tick 0\n");
    printer.output("stderr", 0, "warn\n");
    printer.output("stdout", 0, "tick 0\n");
    printer.output("stdout", 7, "tick ☃\n");
    printer.rest({ stdout: "tick 0\ntick ☃\ntick 2\n", stderr: "warn\n" });
    assert.equal(streams.out, "tick 0\ntick ☃\ntick 2\n");
    assert.equal(streams.err, "warn\n");
  });

  it("is printed whole at the end when nothing came live", () => {
    const streams = io();
    new OutputPrinter(streams).rest({ stdout: "all\n", stderr: "" });
    assert.equal(streams.out, "all\n");
  });
});

describe("a follow that loses the run's events for a while", () => {
  it("says so on standard error, and the output still comes whole", async () => {
    const streams = io();
    const events: RunEvent[] = [
      { type: "output", stream: "stdout", offset: 0, text: "tick 0\n" },
      { type: "interrupted", message: "Lost the run's events: the API at http://127.0.0.1:1 answered 503; trying again every 2 s" },
      { type: "finished", outcome: { name: "run-a", namespace: "default", phase: "Succeeded", success: true, result: null, stdout: "tick 0\ntick 1\n", stderr: "", error: null, exitCode: 0, durationMs: 5 } },
    ];
    const backend = {
      get: async () => ({ name: "run-a", namespace: "default", phase: "Running" }),
      follow: async function* () { yield* events; },
    } as unknown as Backend;
    const code = await logs({ backend, io: streams, namespace: undefined, signal: new AbortController().signal }, "run-a", true);
    assert.equal(code, 0);
    assert.equal(streams.out, "tick 0\ntick 1\n");
    assert.equal(streams.err, `${(events[1] as { message: string }).message}\n`);
  });
});

describe("a run that failed", () => {
  /** `scriptrun run - --mode script` of a run that the backend sees fail with `error`. */
  async function runFailing(error: NonNullable<Outcome["error"]>): Promise<{ code: number; err: string }> {
    const streams = io();
    streams.readStdin = async () => "print('hi')\n";
    const outcome: Outcome = {
      name: "run-a", namespace: "default", phase: "Failed", success: false, result: null, stdout: "", stderr: "", error, exitCode: null, durationMs: 0,
    };
    const backend = {
      submit: async () => ({ name: "run-a", namespace: "default" }),
      follow: async function* () {
        yield { type: "phase", phase: "Failed" };
        yield { type: "finished", outcome };
      },
    } as unknown as Backend;
    const code = await run({ backend, io: streams, namespace: undefined, signal: new AbortController().signal }, "-", { arg: [], mode: "script" }, "table");
    return { code, err: streams.err };
  }

  it("exits 2, as the API's refusal does, when the controller refused it as invalid, and says why", async () => {
    const { code, err } = await runFailing({ type: "invalid_input", message: 'runtime "no-such-runtime" does not exist; the runtimes are: python' });
    assert.equal(code, EXIT.usage);
    assert.match(err, /invalid_input: runtime "no-such-runtime" does not exist/);
  });

  it("exits 1 when the script failed", async () => {
    const { code, err } = await runFailing({ type: "runtime_error", message: "ZeroDivisionError: division by zero", line: 3 });
    assert.equal(code, EXIT.failed);
    assert.match(err, /runtime_error: ZeroDivisionError: division by zero \(line 3\)/);
  });
});

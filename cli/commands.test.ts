// What `run` and `logs -f` print of a followed run's output, and of a follow that lost its way.
import assert from "node:assert/strict";
import type { Backend, RunEvent } from "./backend.js";
import { type Io, OutputPrinter, logs } from "./commands.js";

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

// What `run` and `logs -f` print of a followed run's output.
import assert from "node:assert/strict";
import { type Io, OutputPrinter } from "./commands.js";

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

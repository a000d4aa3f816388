// What `run` and `logs -f` print of a followed run's output, and of a follow that lost its way;
// how `run` ends on a failed run, and on one it cannot follow or that went before it finished.
import assert from "node:assert/strict";
import { type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Backend, Outcome, RunEvent } from "./backend.js";
import { type Io, OutputPrinter, logs, run } from "./commands.js";
import { CliError, EXIT } from "./errors.js";
import { HttpBackend } from "./httpBackend.js";

function io(): Io & { out: string; err: string } {
  const io: Io & { out: string; err: string } = {
    out: "",
    err: "",
    stdout: { write: (text: string) => { io.out += text; } },
    stderr: { write: (text: string) => { io.err += text; } },
    now: () => 0,
    readStdin: async () => new Uint8Array(),
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
    streams.readStdin = async () => Buffer.from("print('hi')\n");
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

describe("a run followed through the API right after it was created, or read", () => {
  const outcome: Outcome = {
    name: "run-a", namespace: "default", phase: "Succeeded", success: true, result: 42, stdout: "", stderr: "", error: null, exitCode: 0, durationMs: 5,
  };
  const refused = (status: number, type: string, headers: Record<string, string> = {}) => (res: ServerResponse) => {
    res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify({ error: { type, message: `${type} here` } }));
  };
  const done = (res: ServerResponse) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.end(`retry: 10\n\nevent: phase\ndata: {"phase":"Succeeded"}\n\nevent: finished\ndata: ${JSON.stringify(outcome)}\n\n`);
  };

  /** `scriptrun --server URL run -` (or `logs -f run-a`) against an API that creates run-a, shows it
   * Running, and answers its event stream with `events` in turn. */
  async function against(events: ((res: ServerResponse) => void)[], command: "run" | "logs" = "run") {
    const server = createServer((req, res) => {
      if (req.method === "POST") res.writeHead(202, { "content-type": "application/json" }).end('{"name":"run-a","namespace":"default"}');
      else if (req.url?.startsWith("/runs/run-a/events")) events.shift()?.(res);
      else res.writeHead(200, { "content-type": "application/json" }).end('{"name":"run-a","namespace":"default","phase":"Running"}');
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const streams = io();
    streams.readStdin = async () => Buffer.from("def main():\n    return 42\n");
    const common = {
      backend: new HttpBackend(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, undefined),
      io: streams, namespace: undefined, signal: AbortSignal.timeout(5_000),
    };
    try {
      const code = command === "run" ? await run(common, "-", { arg: [] }, "table") : await logs(common, "run-a", true);
      return { code, out: streams.out, err: streams.err };
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }

  it("waits out an API that is full or shutting down as the stream first opens", async () => {
    const { code, out, err } = await against([refused(429, "too_many_waits", { "retry-after": "0" }), refused(503, "shutting_down", { "retry-after": "0" }), done]);
    assert.equal(code, EXIT.ok);
    assert.equal(out, "42\n");
    assert.match(err, /Lost the run's events: the API at \S+ answered 429 \(no room for one more wait\); trying again every 0 s/);
  }).timeout(5_000);

  it("follows the output of a run it read likewise", async () => {
    assert.equal((await against([refused(503, "cluster_unavailable", { "retry-after": "0" }), done], "logs")).code, EXIT.ok);
  }).timeout(5_000);

  it("names the run when it cannot follow it", async () => {
    await assert.rejects(against([refused(403, "forbidden")]), (err: unknown) => err instanceof CliError && err.exitCode === EXIT.failed &&
      /answered 403: forbidden here\nRun run-a was created: scriptrun get run-a shows how it goes$/.test(err.message));
  });

  it("says the run was deleted when it is gone before its stream opens", async () => {
    await assert.rejects(against([refused(404, "not_found")]), (err: unknown) => err instanceof CliError && err.exitCode === EXIT.failed &&
      err.message === "Run run-a was deleted before it finished");
  });
});

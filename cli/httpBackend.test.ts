// Following a run through the API when the API goes away for a moment: a stream once open, or of
// a run just created, is opened again as EventSource would, while a first open of a run named by
// the user that fails is told at once. A stream gone silent is opened again too; a run gone by then
// was deleted. Creating a run sends an Idempotency-Key.
import assert from "node:assert/strict";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { RunEvent } from "./backend.js";
import { CliError, EXIT } from "./errors.js";
import { HttpBackend } from "./httpBackend.js";

const ref = { name: "run-a", namespace: "default" };

async function listen(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** A loopback port nothing listens on (just closed): connecting to it is refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await close(server);
  return port;
}

async function follow(backend: HttpBackend, known = false): Promise<RunEvent[]> {
  const events: RunEvent[] = [];
  for await (const event of backend.follow(ref, AbortSignal.timeout(5_000), known)) events.push(event);
  return events;
}

/** The run's stream: Running, then the API ends it. */
function running(res: ServerResponse): void {
  res.writeHead(200, { "content-type": "text/event-stream" });
  res.end('retry: 10\n\nevent: phase\ndata: {"phase":"Running"}\n\n');
}

/** The API with no room for one more wait, for a second. */
function full(res: ServerResponse): void {
  res.writeHead(429, { "content-type": "application/json", "retry-after": "1" }).end('{"error":{"type":"too_many_waits","message":"full"}}');
}

function finished(res: ServerResponse): void {
  res.writeHead(200, { "content-type": "text/event-stream" });
  res.end('event: finished\ndata: {"success":true,"result":1}\n\n');
}

describe("following a run through the API", () => {
  /** Running; told once, with `why`, that the events are lost while the stream cannot be opened
   * again; then the outcome. */
  const done = (port: number, why: string, every: number) => [
    { type: "phase", phase: "Running" },
    { type: "interrupted", message: `Lost the run's events: the API at http://127.0.0.1:${port} ${why}; trying again every ${every} s` },
    { type: "finished", outcome: { success: true, result: 1 } },
  ] as RunEvent[];

  it("opens a dropped stream again while the API answers 502, 503 or 504", async () => {
    const answers = [running, ...[502, 503, 504].map((status) => (res: ServerResponse) => {
      res.writeHead(status, { "content-type": "application/json" }).end('{"error":{"type":"unavailable","message":"restarting"}}');
    }), finished];
    const server = createServer((_req, res) => answers.shift()?.(res));
    const port = await listen(server);
    try {
      // Three failed opens, one word of them (the first's).
      assert.deepEqual(await follow(new HttpBackend(`http://127.0.0.1:${port}`, undefined)), done(port, "answered 502", 0.01));
      assert.equal(answers.length, 0);
    } finally {
      await close(server);
    }
  });

  it("opens a stream again after the Retry-After of an API with no room for one more wait", async () => {
    const answers = [running, full, finished];
    const server = createServer((_req, res) => answers.shift()?.(res));
    const port = await listen(server);
    try {
      const began = Date.now();
      assert.deepEqual(await follow(new HttpBackend(`http://127.0.0.1:${port}`, undefined)),
        done(port, "answered 429 (no room for one more wait)", 1));
      // The stream's own retry is 10 ms: the wait is the 429's Retry-After, a second.
      assert.ok(Date.now() - began >= 900);
    } finally {
      await close(server);
    }
  });

  it("opens a dropped stream again while the API refuses connections, as it restarts", async () => {
    let server = createServer();
    const port = await listen(server);
    let restarted: Promise<void> | undefined;
    server.on("request", (_req: IncomingMessage, res: ServerResponse) => {
      running(res);
      // Gone for longer than several reconnection delays, then back on the same port.
      res.on("finish", () => restarted = close(server).then(() => new Promise((resolve) => setTimeout(resolve, 100))).then(async () => {
        server = createServer((_r, back) => finished(back));
        await listen(server, port);
      }));
    });
    try {
      assert.deepEqual(await follow(new HttpBackend(`http://127.0.0.1:${port}`, undefined)), done(port, "could not be reached", 0.01));
    } finally {
      await restarted;
      await close(server);
    }
  });

  it("tells each time it loses the stream for a while, not each time it tries again", async () => {
    const unavailable = (res: ServerResponse) => {
      res.writeHead(503, { "content-type": "application/json" }).end('{"error":{"type":"unavailable","message":"restarting"}}');
    };
    const answers = [running, unavailable, unavailable, running, unavailable, finished];
    const server = createServer((_req, res) => answers.shift()?.(res));
    const port = await listen(server);
    try {
      const events = await follow(new HttpBackend(`http://127.0.0.1:${port}`, undefined));
      assert.deepEqual(events.map((e) => e.type), ["phase", "interrupted", "phase", "interrupted", "finished"]);
    } finally {
      await close(server);
    }
  });

  it("opens the stream of a run it just created again while the API is full or away, from the first open on", async () => {
    const answers = [(res: ServerResponse) => {
      res.writeHead(503, { "content-type": "application/json" }).end('{"error":{"type":"shutting_down","message":"shutting down"}}');
    }, full, finished];
    const server = createServer((_req, res) => answers.shift()?.(res));
    const port = await listen(server);
    try {
      const began = Date.now();
      assert.deepEqual(await follow(new HttpBackend(`http://127.0.0.1:${port}`, undefined), true), [
        { type: "interrupted", message: `Lost the run's events: the API at http://127.0.0.1:${port} answered 503; trying again every 2 s` },
        { type: "finished", outcome: { success: true, result: 1 } },
      ]);
      // 2 s after the 503 (the stream named no retry yet), then the 429's Retry-After.
      assert.ok(Date.now() - began >= 2_900);
    } finally {
      await close(server);
    }
  }).timeout(10_000);

  it("opens the stream of a run it just created again while the API refuses connections", async () => {
    let server = createServer();
    const port = await listen(server);
    await close(server);
    const back = new Promise((resolve) => setTimeout(resolve, 100)).then(async () => {
      server = createServer((_req, res) => finished(res));
      await listen(server, port);
    });
    try {
      assert.deepEqual(await follow(new HttpBackend(`http://127.0.0.1:${port}`, undefined), true), [
        { type: "interrupted", message: `Lost the run's events: the API at http://127.0.0.1:${port} could not be reached; trying again every 2 s` },
        { type: "finished", outcome: { success: true, result: 1 } },
      ]);
    } finally {
      await back;
      await close(server);
    }
  }).timeout(10_000);

  it("tells a run that went while its stream was away, or just after it was created, as deleted", async () => {
    const gone = (res: ServerResponse) => {
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":{"type":"not_found","message":"No run run-a in namespace default"}}');
    };
    const answers = [running, gone, gone, gone];
    const server = createServer((_req, res) => answers.shift()?.(res));
    const port = await listen(server);
    try {
      const backend = new HttpBackend(`http://127.0.0.1:${port}`, undefined);
      assert.deepEqual(await follow(backend), [{ type: "phase", phase: "Running" }, { type: "deleted" }]);
      assert.deepEqual(await follow(backend, true), [{ type: "deleted" }]);
      // A run the user named that is not there is no run of that name.
      await assert.rejects(follow(backend), (err: unknown) => err instanceof CliError && err.exitCode === EXIT.failed && /answered 404: No run run-a/.test(err.message));
    } finally {
      await close(server);
    }
  });

  it("opens a stream again when it goes silent for longer than it may", async () => {
    const answers = [(res: ServerResponse) => {
      // The headers and an event, then nothing: not even a heartbeat.
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write('retry: 10\n\nevent: phase\ndata: {"phase":"Running"}\n\n');
    }, (res: ServerResponse) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      // Heartbeats closer together than the silence allowed keep the stream, however long it lasts.
      const beats = setInterval(() => res.write(": heartbeat\n\n"), 50);
      setTimeout(() => {
        clearInterval(beats);
        res.end('event: finished\ndata: {"success":true,"result":1}\n\n');
      }, 600);
    }];
    let opens = 0;
    const server = createServer((_req, res) => {
      opens++;
      answers.shift()?.(res);
    });
    const port = await listen(server);
    try {
      assert.deepEqual(await follow(new HttpBackend(`http://127.0.0.1:${port}`, undefined, { streamIdleMs: 200 })), [
        { type: "phase", phase: "Running" },
        { type: "finished", outcome: { success: true, result: 1 } },
      ]);
      assert.equal(opens, 2);
    } finally {
      await close(server);
    }
  });

  it("fails at once when the first open finds no API", async () => {
    const port = await closedPort();
    await assert.rejects(follow(new HttpBackend(`http://127.0.0.1:${port}`, undefined)),
      (err: unknown) => err instanceof CliError && err.exitCode === EXIT.unreachable && /ECONNREFUSED/.test(err.message));
  });

  it("calls a --server on a port fetch will not connect to bad usage, saying why", async () => {
    // fetch refuses port 1 itself, before any connection is made.
    await assert.rejects(new HttpBackend("http://127.0.0.1:1", undefined).list(undefined),
      (err: unknown) => err instanceof CliError && err.exitCode === EXIT.usage &&
        /fetch will not connect to the API at http:\/\/127\.0\.0\.1:1: its port is one the Fetch standard keeps/.test(err.message));
  });
});

describe("creating a run through the API", () => {
  const spec = { script: "def main():\n    return 1\n" };

  it("sends an Idempotency-Key: the one given, else a new one each time", async () => {
    const keys: (string | undefined)[] = [];
    const server = createServer((req, res) => {
      keys.push(req.headers["idempotency-key"] as string | undefined);
      res.writeHead(202, { "content-type": "application/json" }).end(JSON.stringify(ref));
    });
    const port = await listen(server);
    try {
      const backend = new HttpBackend(`http://127.0.0.1:${port}`, undefined);
      assert.deepEqual(await backend.submit(spec, undefined, "nightly-report-2024-06-01"), ref);
      await backend.submit(spec, undefined);
      await backend.submit(spec, undefined);
      assert.equal(keys[0], "nightly-report-2024-06-01");
      assert.match(keys[1] ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.notEqual(keys[1], keys[2]);
    } finally {
      await close(server);
    }
  });

  it("names the key to run the command again with when the create went unanswered", async () => {
    const server = createServer((req) => req.socket.destroy());
    const port = await listen(server);
    try {
      await assert.rejects(new HttpBackend(`http://127.0.0.1:${port}`, undefined).submit(spec, undefined, "key-1"),
        (err: unknown) => err instanceof CliError && err.exitCode === EXIT.unreachable &&
          /the same command with --idempotency-key key-1 answers that run rather than starting a second one/.test(err.message));
    } finally {
      await close(server);
    }
  });

  it("names no key when the connection was refused: nothing was sent", async () => {
    const port = await closedPort();
    await assert.rejects(new HttpBackend(`http://127.0.0.1:${port}`, undefined).submit(spec, undefined, "key-1"),
      (err: unknown) => err instanceof CliError && err.exitCode === EXIT.unreachable && /ECONNREFUSED/.test(err.message) && !/key-1/.test(err.message));
  });
});

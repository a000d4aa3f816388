// Reading the kubeconfig: with none to read, the command says what to do rather than trying a
// made-up cluster. Following a run on the cluster while its watch is well: a re-read the apiserver
// answers with a passing failure is tried again at the next one, and only a definitive answer ends
// the follow. An Idempotency-Key, which only the API keeps, is refused. (What it does against a real
// cluster is for the real-cluster tests.)
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { runsPath } from "../core/kube.js";
import { kubeConfigFor } from "../core/testkit.js";
import { API_VERSION, KIND, type ScriptRunStatus } from "../crds/schema.js";
import { CliError, EXIT } from "./errors.js";
import { type DefaultKubeconfig, KubeBackend, loadKubeConfig } from "./kubeBackend.js";

const ref = { name: "run-a", namespace: "default" };
const run = (status: ScriptRunStatus) =>
  ({ apiVersion: API_VERSION, kind: KIND, metadata: { name: "run-a", namespace: "default" }, spec: { script: "x" }, status });

/** An apiserver whose watch of the run stays open and quiet, and whose reads of it get `reads` in turn. */
async function withApiserver(reads: Array<(res: ServerResponse) => void>, test: (backend: KubeBackend) => Promise<void>): Promise<void> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://apiserver");
    if (url.pathname === runsPath(ref.namespace) && url.searchParams.get("watch") === "true") {
      res.writeHead(200, { "content-type": "application/json" }).flushHeaders();
    } else if (url.pathname === `${runsPath(ref.namespace)}/${ref.name}`) {
      (reads.shift() ?? status(500, "Nothing more to answer"))(res);
    } else {
      status(404, `No ${url.pathname}`)(res);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await test(new KubeBackend(kubeConfigFor(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), 50));
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

const answer = (body: unknown) => (res: ServerResponse) => {
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
};
const status = (code: number, message: string) => (res: ServerResponse) => {
  res.writeHead(code, { "content-type": "application/json" }).end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", message, code }));
};

async function follow(backend: KubeBackend, known = false): Promise<unknown[]> {
  const events: unknown[] = [];
  for await (const event of backend.follow(ref, AbortSignal.timeout(5_000), known)) {
    events.push(event.type === "finished" ? { type: event.type, success: event.outcome.success } : event);
  }
  return events;
}

describe("reading the kubeconfig", () => {
  let home: string;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), "scriptrun-home-"));
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  /** A machine with no KUBECONFIG, nothing in the home directory and no service account. */
  const nowhere = (): DefaultKubeconfig => ({ variable: undefined, home, exists: () => false });
  const noKubeconfig = (err: unknown) => err instanceof CliError && err.exitCode === EXIT.unreachable
    && err.message.includes(join(home, ".kube", "config")) && /KUBECONFIG (is not set|names no file)/.test(err.message) && /--server URL/.test(err.message);

  it("says what to do, and ends as unreachable, when there is no kubeconfig anywhere", () => {
    assert.throws(() => loadKubeConfig({}, nowhere()), noKubeconfig);
  });

  it("takes an empty KUBECONFIG as none", () => {
    assert.throws(() => loadKubeConfig({}, { ...nowhere(), variable: "" }), noKubeconfig);
  });

  it("ends as unreachable, naming the files, when KUBECONFIG names only files that do not exist", () => {
    const gone = [join(home, "a"), join(home, "b")];
    assert.throws(() => loadKubeConfig({}, { ...nowhere(), variable: gone.join(delimiter) }), (err: unknown) => err instanceof CliError
      && err.exitCode === EXIT.unreachable && err.message.includes(`KUBECONFIG names ${gone.join(", ")}, which do not exist`) && /--server URL/.test(err.message));
  });

  it("reads the files of KUBECONFIG that exist, in order, as kubectl does: the first to name a current context wins", () => {
    const config = (name: string, server: string, current: boolean) => {
      const kc = new KubeConfig();
      kc.loadFromOptions({ clusters: [{ name, server, skipTLSVerify: true }], users: [{ name, token: "t" }],
        contexts: [{ name, cluster: name, user: name }], currentContext: current ? name : "" });
      const file = join(home, name);
      writeFileSync(file, kc.exportConfig());
      return file;
    };
    const none = config("none", "https://127.0.0.1:5443", false);
    const first = config("first", "https://127.0.0.1:6443", true);
    const second = config("second", "https://127.0.0.1:7443", true);
    const kc = loadKubeConfig({}, { ...nowhere(), variable: [join(home, "missing"), none, first, second].join(delimiter), exists: existsSync });
    assert.equal(kc.getCurrentContext(), "first");
    assert.equal(kc.getCurrentCluster()?.server, "https://127.0.0.1:6443");
    assert.deepEqual(kc.getContexts().map((c) => c.name), ["none", "first", "second"]);
    // Two files that name their cluster, user and context alike: the first file's are kept.
    const again = join(home, "again");
    writeFileSync(again, readFileSync(first, "utf8").replace("https://127.0.0.1:6443", "https://127.0.0.1:8443"));
    const both = loadKubeConfig({}, { ...nowhere(), variable: [second, again, first].join(delimiter), exists: existsSync });
    assert.deepEqual([both.getCurrentContext(), both.getCluster("first")?.server], ["second", "https://127.0.0.1:8443"]);
  });

  it("takes a KUBECONFIG of separators only as none", () => {
    assert.throws(() => loadKubeConfig({}, { ...nowhere(), variable: delimiter }), noKubeconfig);
  });

  it("reads the kubeconfig --kubeconfig names wherever else there is none", () => {
    const file = join(home, "kubeconfig");
    writeFileSync(file, kubeConfigFor("https://127.0.0.1:6443").exportConfig());
    assert.equal(loadKubeConfig({ kubeconfig: file }, nowhere()).getCurrentCluster()?.server, "https://127.0.0.1:6443");
  });
});

describe("following a run on the cluster", () => {
  it("reads the run again at the next tick when the apiserver is busy, failing or away for a moment", async () => {
    // Two reads of the same, in case the first re-read comes before the first read is answered.
    const reads = [answer(run({ phase: "Queued" })), answer(run({ phase: "Queued" })), status(429, "Too many requests"), status(500, "etcdserver: request timed out"),
      status(503, "Service unavailable"), (res: ServerResponse) => res.socket?.destroy(), answer(run({ phase: "Succeeded", result: 1 }))];
    await withApiserver(reads, async (backend) => {
      assert.deepEqual(await follow(backend), [
        { type: "phase", phase: "Queued" }, { type: "phase", phase: "Succeeded" }, { type: "finished", success: true },
      ]);
      assert.equal(reads.length, 0);
    });
  });

  it("rides out a first read that fails for a moment of a run it has just created, and says so once", async () => {
    const reads = [status(503, "Service unavailable"), status(429, "Too many requests"), answer(run({ phase: "Succeeded", result: 1 }))];
    await withApiserver(reads, async (backend) => {
      const events = await follow(backend, true);
      assert.equal(events.length, 3, JSON.stringify(events));
      assert.match((events[0] as { type: string; message: string }).message,
        /^Could not read run run-a from the cluster at http:\/\/127\.0\.0\.1:\d+ \(context \S+\); trying again every 0\.05 s$/);
      assert.deepEqual(events.slice(1), [{ type: "phase", phase: "Succeeded" }, { type: "finished", success: true }]);
    });
  });

  it("takes a run it has just created and cannot find at the first read as deleted; one it was only named, as not there", async () => {
    await withApiserver([status(404, "not found")], async (backend) => {
      assert.deepEqual(await follow(backend, true), [{ type: "deleted" }]);
    });
    await withApiserver([status(404, "not found")], async (backend) => {
      await assert.rejects(follow(backend), (err: unknown) => err instanceof CliError && err.exitCode === EXIT.failed && /No run run-a in namespace default/.test(err.message));
    });
  });

  it("ends as unreachable when the first read of a run it was only named fails", async () => {
    await withApiserver([status(503, "Service unavailable")], async (backend) => {
      await assert.rejects(follow(backend), (err: unknown) => err instanceof CliError && err.exitCode === EXIT.unreachable);
    });
  });

  it("reads the run again only once the last re-read was answered", async () => {
    let unanswered = 0;
    const reads = [answer(run({ phase: "Queued" })), ...Array.from({ length: 20 }, () => () => { unanswered += 1; })];
    await withApiserver(reads, async (backend) => {
      // Some ten ticks of 50 ms while a re-read hangs. Two at most: the first read and a re-read
      // both hang when that re-read came before the first read was answered.
      for await (const _event of backend.follow(ref, AbortSignal.timeout(500)));
      assert.ok(unanswered >= 1 && unanswered <= 2, `${unanswered} reads waited at once`);
    });
  });

  it("ends the follow when a re-read is not allowed", async () => {
    await withApiserver([answer(run({ phase: "Queued" })), status(403, "scriptruns is forbidden")], async (backend) => {
      await assert.rejects(follow(backend), (err: unknown) => err instanceof CliError && err.exitCode === EXIT.failed && /403.*forbidden/.test(err.message));
    });
  });
});

describe("creating a run on the cluster", () => {
  it("refuses an --idempotency-key, which only the API keeps, as bad usage before anything is sent", async () => {
    // Nothing listens there: a create sent would end as unreachable.
    const backend = new KubeBackend(kubeConfigFor("http://127.0.0.1:9"));
    await assert.rejects(backend.submit({ script: "def main():\n    return 1\n" }, undefined, "nightly-1"),
      (err: unknown) => err instanceof CliError && err.exitCode === EXIT.usage && /--idempotency-key needs --server/.test(err.message));
  });
});

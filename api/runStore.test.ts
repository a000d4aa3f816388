// The real store, when the cluster is not there: a refused connection and an apiserver that accepts
// but never answers both become 503 in bounded time, never a hang; so does a create that never got
// a connection, saying nothing was sent. (What it does against a cluster that answers is for the
// real-cluster tests.)
import assert from "node:assert/strict";
import { type Server, type Socket, createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import supertest from "supertest";
import { silentLogger } from "../core/log.js";
import { PreflightClient, defaultRunnerPath } from "../core/preflight.js";
import type { KubeConfig } from "@kubernetes/client-node";
import { CALL_CONNECTIONS, JsonClient, reuseConnections } from "../core/kube.js";
import { kubeConfigFor, selfSignedServer, testRuntimes } from "../core/testkit.js";
import { createApp } from "./app.js";
import { NoAuth } from "./auth.js";
import { KubeRunStore } from "./runStore.js";
import { FakePodLogs, testConfig } from "./testkit.js";
import { Waiter } from "./waiter.js";

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

describe("the cluster store when the cluster does not answer", () => {
  const log = silentLogger();
  const preflight = new PreflightClient({ runnerPath: defaultRunnerPath() });
  after(() => preflight.close());

  async function withApp(server: string | KubeConfig, test: (http: ReturnType<typeof supertest>) => Promise<void>): Promise<void> {
    const config = testConfig({ SCRIPTRUN_API_CLUSTER_TIMEOUT_MS: "300" });
    const runs = new KubeRunStore(typeof server === "string" ? kubeConfigFor(server) : server, { timeoutMs: config.clusterTimeoutMs, relistMs: 60_000, log });
    const waiter = new Waiter(runs, { maxWaits: 10, recheckMs: 60_000, log });
    waiter.start();
    const listening = createApp({ runs, waiter, podLogs: new FakePodLogs(), preflight, runtimes: testRuntimes(), config, auth: new NoAuth(), registry: new Registry(), log }).listen(0, "127.0.0.1");
    try {
      await test(supertest(listening));
    } finally {
      listening.closeAllConnections();
      await new Promise((resolve) => listening.close(resolve));
      await waiter.stop();
    }
  }

  it("answers 503 when the apiserver refuses connections", async () => {
    const closed = createServer();
    const port = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    await withApp(`http://127.0.0.1:${port}`, async (http) => {
      const res = await http.get("/runs/run-x");
      assert.equal(res.status, 503);
      assert.equal(res.body.error.type, "cluster_unavailable");
      assert.match(res.body.error.message, /unreachable.*ECONNREFUSED/);
      const run = await http.post("/execute").send({ script: "def main():\n    return 1\n" });
      assert.deepEqual([run.status, run.body.error.type], [503, "cluster_unavailable"]);
      assert.equal((await http.get("/readyz")).status, 503);
    });
  });

  it("answers 503 within the timeout when the apiserver accepts but never answers", async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    const port = await listen(silent);
    try {
      await withApp(`http://127.0.0.1:${port}`, async (http) => {
        const started = Date.now();
        const res = await http.get("/runs");
        assert.equal(res.status, 503);
        assert.match(res.body.error.message, /did not answer in time/);
        assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it(`answers 503 saying nothing was sent when the create waited in vain for one of the ${CALL_CONNECTIONS} connections`, async function () {
    this.timeout(10_000);
    const seen: string[] = [];
    let held = 0;
    const { server, url, ca } = await selfSignedServer((req) => {
      if (req.url === "/hold") held++;
      else seen.push(`${req.method} ${req.url}`);
    });
    const kc = reuseConnections(kubeConfigFor(url, ca));
    // Other calls of the same process take every connection and hold it.
    const holding = Array.from({ length: CALL_CONNECTIONS }, () => new JsonClient(kc).request("GET", "/hold").catch(() => undefined));
    try {
      while (held < CALL_CONNECTIONS) await new Promise((resolve) => setTimeout(resolve, 10));
      await withApp(kc, async (http) => {
        const res = await http.post("/runs").send({ script: "def main():\n    return 1\n" });
        assert.deepEqual([res.status, res.body.error.type, res.body.error.name], [503, "cluster_unavailable", undefined]);
        assert.equal(res.body.error.message, "No connection to the Kubernetes API was ready within 300 ms: the call was not sent");
      });
      // Neither the create nor a look for the run it might have made reached the apiserver.
      assert.deepEqual(seen.filter((call) => call.includes("/scriptruns")), []);
    } finally {
      server.closeAllConnections();
      server.close();
      await Promise.all(holding);
    }
  });

  it("answers 503 when the apiserver's certificate is not trusted", async () => {
    const { server, url } = await selfSignedServer((_req, res) => res.writeHead(200).end("{}"));
    const other = await selfSignedServer((_req, res) => res.writeHead(200).end("{}"));
    try {
      await withApp(reuseConnections(kubeConfigFor(url, other.ca)), async (http) => {
        const res = await http.get("/runs/run-x");
        assert.deepEqual([res.status, res.body.error.type], [503, "cluster_unavailable"]);
        assert.match(res.body.error.message, /^The Kubernetes API is unreachable: request to .* failed, reason: self-signed certificate$/);
      });
    } finally {
      server.close();
      other.server.close();
    }
  });

  it("refuses an empty namespace rather than reach every namespace's runs", async () => {
    const runs = new KubeRunStore(kubeConfigFor("https://127.0.0.1:1"), { timeoutMs: 300, relistMs: 60_000, log });
    for (const call of [() => runs.list("", { limit: 5 }), () => runs.get("", "run-x"), () => runs.requestCancel("", "run-x", undefined)]) {
      await assert.rejects(call(), /A run's namespace must not be empty/);
    }
  });
});

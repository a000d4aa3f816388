import assert from "node:assert/strict";
import { once } from "node:events";
import { type IncomingMessage, type ServerResponse, createServer as createHttpServer } from "node:http";
import { Agent, type Server, request } from "node:https";
import { type AddressInfo, type Socket, connect, createServer as createNetServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import tls from "node:tls";
import { FetchError, HttpMethod, KubeConfig, RequestContext } from "@kubernetes/client-node";
import { CALL_CONNECTIONS, CALL_SILENCE_MS, CREDENTIALS_FRESH_MS, CallTimeout, JsonClient, KeptAgent, LineWatch, LIST_PAGE, listInPages, reuseConnections, statusCode, statusMessage, streamAgent, unless } from "./kube.js";
import { kubeConfigFor, selfSignedServer } from "./testkit.js";

const b64 = (text: string) => Buffer.from(text).toString("base64");

function config(cert = "cert-1", proxyUrl?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: "https://127.0.0.1:6443", caData: b64("ca"), skipTLSVerify: false, ...(proxyUrl ? { proxyUrl } : {}) }],
    users: [{ name: "u", certData: b64(cert), keyData: b64("key") }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return kc;
}

async function agentOf(kc: KubeConfig): Promise<unknown> {
  const context = new RequestContext("https://127.0.0.1:6443/api", HttpMethod.GET);
  await kc.applySecurityAuthentication(context);
  return context.getAgent();
}

describe("reusing connections to the apiserver", () => {
  it("gives every request one keep-alive agent, with the cluster's TLS options", async () => {
    const kc = config();
    assert.notEqual(await agentOf(kc), await agentOf(kc), "client-node alone makes an agent per request");
    reuseConnections(kc);
    const [first, second] = [await agentOf(kc), await agentOf(kc)];
    assert.equal(first, second);
    assert.ok(first instanceof Agent);
    assert.equal(first.options.keepAlive, true);
    assert.equal(String(first.options.cert), "cert-1");
    assert.equal(String(first.options.ca), "ca");
  });

  it("makes a new agent when the TLS options change (a rotated certificate), within a second", async () => {
    const clock = { now: 0 };
    const kc = reuseConnections(config("cert-1"), () => clock.now);
    const before = await agentOf(kc);
    kc.users[0] = { ...kc.users[0]!, certData: b64("cert-2") };
    clock.now += CREDENTIALS_FRESH_MS - 1;
    assert.equal(await agentOf(kc), before, "one application of the credentials serves the requests of the next second");
    clock.now += 1;
    const after = await agentOf(kc);
    assert.notEqual(after, before);
    assert.equal(String((after as Agent).options.cert), "cert-2");
  });

  it("applies the credentials' headers to every request: a token, read again a second later", async () => {
    const clock = { now: 0 };
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "c", server: "https://127.0.0.1:6443", caData: b64("ca"), skipTLSVerify: false }],
      users: [{ name: "u", token: "t-1" }], contexts: [{ name: "x", cluster: "c", user: "u" }], currentContext: "x",
    });
    reuseConnections(kc, () => clock.now);
    const authorization = async () => {
      const context = new RequestContext("https://127.0.0.1:6443/api", HttpMethod.GET);
      await kc.applySecurityAuthentication(context);
      return context.getHeaders().Authorization;
    };
    assert.deepEqual([await authorization(), await authorization()], ["Bearer t-1", "Bearer t-1"]);
    kc.users[0] = { ...kc.users[0]!, token: "t-2" };
    clock.now += CREDENTIALS_FRESH_MS;
    assert.equal(await authorization(), "Bearer t-2");
  });

  it("leaves a proxy's agent as client-node made it", async () => {
    const kc = reuseConnections(config("cert-1", "http://127.0.0.1:3128"));
    const agent = await agentOf(kc);
    assert.ok(agent);
    assert.notEqual(agent.constructor, Agent);
  });
});

describe("KeptAgent", () => {
  let server: Server;
  let url: string;
  let ca: Buffer;

  before(async () => {
    // A chunked answer, as the apiserver sends any body it has not measured.
    ({ server, url, ca } = await selfSignedServer((_req, res) => {
      res.write("{\"items\": [");
      setImmediate(() => res.end("]}"));
    }));
  });

  after(() => server.close());

  async function get(agent: Agent): Promise<{ socket: Socket; response: IncomingMessage; reused: boolean }> {
    const req = request(url, { agent, ca });
    req.end();
    const [response] = (await once(req, "response")) as [IncomingMessage];
    return { socket: req.socket as Socket, response, reused: req.reusedSocket };
  }

  it("takes a socket back only after the response that used it has closed, then reuses it", async () => {
    const agent = new KeptAgent({ ca });
    try {
      const first = await get(agent);
      assert.equal(first.response.headers["transfer-encoding"], "chunked");
      first.response.resume();
      await once(first.response, "close");
      // What node-fetch checks at this moment: a free socket here fails the response.
      assert.equal(Object.values(agent.freeSockets).flat().length, 0, "the socket was free before its response closed");
      assert.equal(first.socket.listenerCount("data"), 0);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(Object.values(agent.freeSockets).flat().length, 1);
      const second = await get(agent);
      second.response.resume();
      await once(second.response, "close");
      assert.ok(second.reused, "a kept socket is used again");
      assert.equal(second.socket, first.socket);
    } finally {
      agent.destroy();
    }
  });

  /** Runs `act` with the process's uncaught exceptions caught and handed back, not mocha's. */
  async function uncaughtDuring(act: () => Promise<void>): Promise<string[]> {
    const uncaught: string[] = [];
    const onUncaught = (err: NodeJS.ErrnoException) => uncaught.push(err.code ?? String(err));
    const listeners = process.listeners("uncaughtException");
    process.removeAllListeners("uncaughtException").on("uncaughtException", onUncaught);
    try {
      await act();
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      process.removeListener("uncaughtException", onUncaught);
      for (const listener of listeners) process.on("uncaughtException", listener);
    }
    return uncaught;
  }

  /** `promise`, or "still waiting" after `ms`. */
  const within = <T>(promise: Promise<T>, ms: number) => Promise.race([promise, sleep(ms, "still waiting" as const, { ref: false })]);

  it("fails a call that waited for a connection when the new one it gets is refused", async () => {
    // One connection: the first call holds it, the second waits. When the first's connection
    // closes, the agent connects again for the second, to a server no longer listening.
    let held: IncomingMessage | undefined;
    const refusing = await selfSignedServer((req) => { held = req; });
    const agent = new KeptAgent({ ca: refusing.ca, maxSockets: 1 });
    const call = () => new Promise<unknown>((resolve, reject) => {
      request(refusing.url, { agent, ca: refusing.ca }, resolve).on("error", reject).end();
    }).then(() => "answered", (err: NodeJS.ErrnoException) => err.code);
    try {
      const uncaught = await uncaughtDuring(async () => {
        const first = call();
        const second = call();
        while (!held) await sleep(5);
        refusing.server.close();
        held.socket.destroy();
        assert.equal(await within(first, 1000), "ECONNRESET");
        assert.equal(await within(second, 1000), "ECONNREFUSED");
      });
      assert.deepEqual(uncaught, []);
    } finally {
      agent.destroy();
    }
  });

  it("takes no harm from a kept connection reset before it is taken back", async () => {
    // The caller reads the answer late, from a timer, and the server goes away meanwhile: the
    // connection is reset between its response's end and its return to the pool.
    const body = Buffer.alloc(100, "x");
    const answering = await selfSignedServer((_req, res) => res.writeHead(200, { "Content-Length": body.length }).end(body));
    const clients: Socket[] = [];
    const proxy = createNetServer((client) => {
      clients.push(client);
      const up = connect(Number(new URL(answering.url).port), "127.0.0.1");
      client.on("error", () => {});
      up.on("error", () => {});
      client.pipe(up).pipe(client);
    });
    proxy.listen(0, "127.0.0.1");
    await once(proxy, "listening");
    const agent = new KeptAgent({ ca: answering.ca });
    try {
      const uncaught = await uncaughtDuring(async () => {
        const answer = new Promise<string>((resolve) => {
          request(`https://127.0.0.1:${(proxy.address() as AddressInfo).port}/`, { agent, ca: answering.ca }, (res) => {
            res.pause();
            setTimeout(() => {
              res.on("end", () => resolve("ended")).resume();
              for (const client of clients) client.resetAndDestroy();
            }, 50);
          }).on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err))).end();
        });
        assert.equal(await within(answer, 1000), "ended");
      });
      assert.deepEqual(uncaught, []);
    } finally {
      agent.destroy();
      proxy.close();
      answering.server.close();
      answering.server.closeAllConnections();
    }
  });

  it("makes its TLS context once: no connection makes one of its own", async () => {
    const agent = new KeptAgent({ ca });
    const context = agent.secureContext();
    const made = tls.createSecureContext;
    let connectionsMade = 0;
    tls.createSecureContext = (options) => {
      connectionsMade++;
      return made(options);
    };
    try {
      const answers = await Promise.all([get(agent), get(agent), get(agent)]);
      for (const { response } of answers) response.resume();
      assert.equal(new Set(answers.map((a) => a.socket)).size, 3, "three connections at once");
      assert.equal(connectionsMade, 0);
      assert.equal(agent.secureContext(), context);
    } finally {
      tls.createSecureContext = made;
      agent.destroy();
    }
  });

  it("keys its pools by host, port and server name, without decoding the PEM it was made with", () => {
    const at = (port: number, servername?: string) => ({ ca, host: "127.0.0.1", port, ...(servername ? { servername } : {}) });
    // Node 20's own agent joins the CA's PEM into every key (Node 22's no longer does).
    if (process.versions.node.startsWith("20.")) assert.match(new Agent({ ca }).getName(at(6443)), /BEGIN CERTIFICATE/);
    const agent = new KeptAgent({ ca });
    try {
      assert.doesNotMatch(agent.getName(at(6443)), /BEGIN CERTIFICATE/);
      assert.equal(agent.getName(at(6443)), agent.getName(at(6443)));
      assert.notEqual(agent.getName(at(6443)), agent.getName(at(6444)));
      assert.notEqual(agent.getName(at(6443, "apiserver-a")), agent.getName(at(6443, "apiserver-b")));
    } finally {
      agent.destroy();
    }
  });
});

describe("connections of calls and of watches", () => {
  it(`opens at most ${CALL_CONNECTIONS} connections for calls at once, and a watch's beside them`, async function () {
    this.timeout(20_000);
    const connections = new Set<Socket>();
    const watches: ServerResponse[] = [];
    const { server, url, ca } = await selfSignedServer((req, res) => {
      connections.add(req.socket);
      // A watch: held open, as the apiserver holds it until it ends the watch.
      if (req.url?.includes("watch=true")) {
        res.writeHead(200, { "Content-Type": "application/json" }).flushHeaders();
        watches.push(res);
      }
      else setTimeout(() => res.writeHead(200, { "Content-Type": "application/json" }).end("{}"), 20);
    });
    const kc = reuseConnections(kubeConfigFor(url, ca));
    const client = new JsonClient(kc);
    const stops: AbortController[] = [];
    try {
      await Promise.all(Array.from({ length: 3 * CALL_CONNECTIONS }, () => client.request("GET", "/api/v1/namespaces/default/pods/p")));
      assert.equal(connections.size, CALL_CONNECTIONS);
      // As many watches as call connections, and more: calls still get through.
      const watch = new LineWatch(kc);
      for (let i = 0; i <= CALL_CONNECTIONS; i++) stops.push(await watch.watch("/api/v1/pods", {}, () => {}, () => {}));
      while (watches.length <= CALL_CONNECTIONS) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(await client.request("GET", "/api/v1/namespaces/default/pods/p"), {});
      assert.equal(connections.size, 2 * CALL_CONNECTIONS + 1);
    } finally {
      for (const stop of stops) stop.abort();
      server.close();
      server.closeAllConnections();
    }
  });

  it(`closes a call's connection silent for ${CALL_SILENCE_MS / 1000} s, failing its call; a watch's may stay silent`, async () => {
    const kc = reuseConnections(config());
    const calls = await agentOf(kc) as Agent;
    assert.equal(calls.options.timeout, CALL_SILENCE_MS);
    assert.equal(streamAgent(calls)?.options.timeout, undefined);
    // The same with a short silence, against a server that answers only the second call.
    let answering = false;
    const { server, url, ca } = await selfSignedServer((_req, res) => {
      if (answering) res.writeHead(200, { "Content-Type": "application/json" }).end("{}");
    });
    const agent = new KeptAgent({ ca, timeout: 200 });
    try {
      const began = Date.now();
      const unanswered = request(url, { agent });
      unanswered.end();
      const [err] = await once(unanswered, "error") as [Error];
      assert.match(err.message, /socket hang up/);
      assert.ok(Date.now() - began < 2000, `failed after ${Date.now() - began} ms`);
      answering = true;
      const next = request(url, { agent });
      next.end();
      const [response] = await once(next, "response") as [IncomingMessage];
      assert.equal(response.statusCode, 200);
      response.resume();
      await once(response, "end");
    } finally {
      agent.destroy();
      server.close();
      server.closeAllConnections();
    }
  });
});

describe("listing a cache's objects in pages", () => {
  it("asks page after page with the continue token, and answers one list at the snapshot's version", async () => {
    const asked: Array<{ limit: number; _continue?: string }> = [];
    const pages = [
      { apiVersion: "scriptrun.dev/v1alpha1", kind: "ScriptRunList", metadata: { resourceVersion: "42", continue: "c1" }, items: [{ n: 1 }, { n: 2 }] },
      { apiVersion: "scriptrun.dev/v1alpha1", kind: "ScriptRunList", metadata: { resourceVersion: "42", continue: "c2" }, items: [{ n: 3 }] },
      { apiVersion: "scriptrun.dev/v1alpha1", kind: "ScriptRunList", metadata: { resourceVersion: "42", continue: "" }, items: [{ n: 4 }] },
    ];
    const list = await listInPages(async (options) => pages[asked.push(options) - 1]);
    assert.deepEqual(asked, [{ limit: LIST_PAGE }, { limit: LIST_PAGE, _continue: "c1" }, { limit: LIST_PAGE, _continue: "c2" }]);
    assert.deepEqual(list, { apiVersion: "scriptrun.dev/v1alpha1", kind: "ScriptRunList", metadata: { resourceVersion: "42" },
      items: [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }] });
  });

  it("passes each item through `each` as its page arrives", async () => {
    const pages = [
      { metadata: { resourceVersion: "42", continue: "c1" }, items: [{ n: 1 }, { n: 2 }] },
      { metadata: { resourceVersion: "42" }, items: [{ n: 3 }] },
    ];
    let asked = 0;
    const order: string[] = [];
    const list = await listInPages(async () => {
      order.push(`page ${++asked}`);
      return pages[asked - 1];
    }, (item) => {
      order.push(`item ${(item as { n: number }).n}`);
      return { ...item, kept: true } as never;
    });
    assert.deepEqual(order, ["page 1", "item 1", "item 2", "page 2", "item 3"]);
    assert.deepEqual(list.items, [{ n: 1, kept: true }, { n: 2, kept: true }, { n: 3, kept: true }]);
  });
});

describe("JsonClient", () => {
  /** An apiserver stand-in on loopback that records each request and answers `answer(request)`. */
  async function apiserver(answer: (seen: { method: string; url: string; body: string }) => [number, string]) {
    const seen: Array<{ method: string; url: string; body: string; headers: IncomingMessage["headers"] }> = [];
    const server = createHttpServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => { body += chunk.toString(); });
      req.on("end", () => {
        const request = { method: req.method ?? "", url: req.url ?? "", body, headers: req.headers };
        seen.push(request);
        const [code, text] = answer(request);
        res.writeHead(code, { "Content-Type": "application/json" }).end(text);
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const kc = new KubeConfig();
    kc.loadFromOptions({
      // A path under the server, as behind a proxy that serves several clusters.
      clusters: [{ name: "c", server: `http://127.0.0.1:${(server.address() as AddressInfo).port}/k8s/`, skipTLSVerify: true }],
      users: [{ name: "u", token: "t-1" }], contexts: [{ name: "x", cluster: "c", user: "u" }], currentContext: "x",
    });
    return { client: new JsonClient(reuseConnections(kc)), seen, port: (server.address() as AddressInfo).port, close: () => server.close().closeAllConnections() };
  }

  it("sends the body as JSON with its content type and the credentials, and answers the parsed JSON", async () => {
    const api = await apiserver(({ body }) => [201, JSON.stringify({ kind: "Pod", metadata: { name: "p-x1" }, echoed: body ? JSON.parse(body) as unknown : null })]);
    try {
      const created = await api.client.request<{ metadata: { name: string }; echoed: unknown }>("POST", "/api/v1/namespaces/n/pods",
        { metadata: { generateName: "p-" }, at: new Date(Date.UTC(2026, 11, 1)) });
      assert.equal(created.metadata.name, "p-x1");
      assert.deepEqual(created.echoed, { metadata: { generateName: "p-" }, at: "2026-12-01T00:00:00.000Z" });
      await api.client.request("PATCH", "/apis/g/v1/namespaces/n/things/a/status", { status: { phase: "Running" } }, { contentType: "application/merge-patch+json" });
      assert.equal(await api.client.send("DELETE", "/api/v1/namespaces/n/pods/p-x1"), undefined, "send answers nothing");
      assert.deepEqual(api.seen.map((r) => [r.method, r.url, r.headers["content-type"], r.headers.authorization, r.headers.accept]), [
        ["POST", "/k8s/api/v1/namespaces/n/pods", "application/json", "Bearer t-1", "application/json"],
        ["PATCH", "/k8s/apis/g/v1/namespaces/n/things/a/status", "application/merge-patch+json", "Bearer t-1", "application/json"],
        ["DELETE", "/k8s/api/v1/namespaces/n/pods/p-x1", undefined, "Bearer t-1", "application/json"],
      ]);
      assert.equal(api.seen[2]!.body, "");
      // Given as a list, the headers are all there: Host and the body's length too.
      assert.deepEqual([api.seen[0]!.headers.host, Number(api.seen[0]!.headers["content-length"])], [`127.0.0.1:${api.port}`, Buffer.byteLength(api.seen[0]!.body)]);
    } finally {
      api.close();
    }
  });

  it("answers the text as the apiserver wrote it when asked for text, and fails as request does", async () => {
    const written = '{"spec":{"args":[12345678901234567890]}}';
    const api = await apiserver(({ url }) => (url.endsWith("/a") ? [200, written] : [404, JSON.stringify({ kind: "Status", code: 404, message: "not found" })]));
    try {
      assert.equal(await api.client.text("GET", "/apis/g/v1/namespaces/n/things/a"), written);
      assert.equal(statusCode(await api.client.text("GET", "/apis/g/v1/namespaces/n/things/b").catch((err: unknown) => err)), 404);
    } finally {
      api.close();
    }
  });

  it("fails with the status code and the apiserver's message, as client-node's calls do", async () => {
    const api = await apiserver(({ method }) => (method === "POST"
      ? [409, JSON.stringify({ kind: "Status", code: 409, message: 'pods "p" already exists' })]
      : [503, "upstream down"]));
    try {
      assert.equal(await unless([409], api.client.request("POST", "/api/v1/namespaces/n/pods", {}), "exists"), "exists");
      assert.equal(await unless([409], api.client.send("POST", "/api/v1/namespaces/n/pods", {}), "exists"), "exists");
      const failed = await api.client.request("GET", "/api/v1/namespaces/n/pods/p").catch((err: unknown) => err);
      assert.equal(statusCode(failed), 503);
      assert.equal(statusMessage(failed as never), "upstream down");
      const conflict = await api.client.request("POST", "/api/v1/namespaces/n/pods", {}).catch((err: unknown) => err);
      assert.equal(statusMessage(conflict as never), 'pods "p" already exists');
    } finally {
      api.close();
    }
  });
});

describe("JsonClient's timeout", () => {
  it(`counts a call that waited for one of the ${CALL_CONNECTIONS} connections as not sent, and leaves it unsent`, async function () {
    this.timeout(10_000);
    let held = 0;
    const answered: string[] = [];
    const { server, url, ca } = await selfSignedServer((req, res) => {
      if (req.url === "/hold") held++;
      else {
        answered.push(req.url ?? "");
        res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ url: req.url }));
      }
    });
    const client = new JsonClient(reuseConnections(kubeConfigFor(url, ca)));
    const holding = Array.from({ length: CALL_CONNECTIONS }, () => client.request("GET", "/hold").catch((err: unknown) => err));
    try {
      while (held < CALL_CONNECTIONS) await sleep(10);
      const queued = await client.request("GET", "/queued", undefined, { timeoutMs: 300 }).catch((err: unknown) => err);
      assert.ok(queued instanceof CallTimeout);
      assert.deepEqual([queued.name, queued.sent, queued.message],
        ["AbortError", false, "No connection to the Kubernetes API was ready within 300 ms: the call was not sent"]);
      // Once connections free, the call that timed out is passed over, and the next is served.
      server.closeAllConnections();
      assert.deepEqual(await client.request("GET", "/next", undefined, { timeoutMs: 5000 }), { url: "/next" });
      assert.deepEqual(answered, ["/next"]);
    } finally {
      server.closeAllConnections();
      server.close();
      await Promise.all(holding);
    }
  });

  it("counts a call on a connection whose TLS handshake never ends as not sent", async () => {
    // A listener that takes the connection and never answers the client's hello.
    const sockets: Socket[] = [];
    const server = createNetServer((socket) => sockets.push(socket.on("error", () => undefined)));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const client = new JsonClient(reuseConnections(kubeConfigFor(`https://127.0.0.1:${(server.address() as AddressInfo).port}`)));
    try {
      const late = await client.request("POST", "/create", { kind: "ScriptRun" }, { timeoutMs: 300 }).catch((err: unknown) => err);
      assert.ok(late instanceof CallTimeout);
      assert.equal(sockets.length, 1, "the call had its connection");
      assert.deepEqual([late.sent, late.message], [false, "No connection to the Kubernetes API was ready within 300 ms: the call was not sent"]);
    } finally {
      for (const socket of sockets) socket.destroy();
      server.close();
    }
  });

  it("counts a call on a connection as sent, and closes that connection", async () => {
    let connections = 0;
    const { server, url, ca } = await selfSignedServer((req, res) => {
      if (req.url !== "/hold") res.writeHead(200).end("{}");
    });
    server.on("secureConnection", () => connections++);
    const client = new JsonClient(reuseConnections(kubeConfigFor(url, ca)));
    try {
      const late = await client.request("GET", "/hold", undefined, { timeoutMs: 300 }).catch((err: unknown) => err);
      assert.ok(late instanceof CallTimeout);
      assert.deepEqual([late.sent, late.message], [true, "The Kubernetes API did not answer within 300 ms"]);
      assert.deepEqual(await client.request("GET", "/after"), {});
      assert.equal(connections, 2, "the call that timed out left its connection to be used again");
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe("JsonClient's failures", () => {
  it("fails on a certificate it does not trust as client-node does: a FetchError with the system error's code", async () => {
    const { server, url } = await selfSignedServer((_req, res) => res.writeHead(200).end("{}"));
    const other = await selfSignedServer((_req, res) => res.writeHead(200).end("{}"));
    try {
      const failed = await new JsonClient(reuseConnections(kubeConfigFor(url, other.ca))).request("GET", "/x").catch((err: unknown) => err);
      assert.ok(failed instanceof FetchError, String(failed));
      assert.equal((failed as FetchError).code, "DEPTH_ZERO_SELF_SIGNED_CERT");
      assert.equal((failed as Error).message, `request to ${url.replace(/\/+$/, "")}/x failed, reason: self-signed certificate`);
    } finally {
      server.close();
      other.server.close();
    }
  });
});

describe("LineWatch", () => {
  /** A watch endpoint on loopback: `serve` writes the response of each request. */
  async function watchServer(serve: (url: string, res: ServerResponse) => void) {
    const server = createHttpServer((req, res) => serve(req.url ?? "", res));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { url, watch: new LineWatch(reuseConnections(kubeConfigFor(url))), close: () => server.close().closeAllConnections() };
  }

  /** Watches until `done`; the events seen, and what `done` was called with (each call). */
  async function watchAll(watch: LineWatch, query: Record<string, string | undefined> = {}) {
    const events: Array<[string, unknown]> = [];
    const dones: unknown[] = [];
    const ended = new Promise<void>((resolve) => {
      void watch.watch("/api/v1/pods", query, (type, object) => events.push([type, object]), (err) => {
        dones.push(err);
        resolve();
      });
    });
    await ended;
    await new Promise((resolve) => setTimeout(resolve, 20));
    return { events, dones };
  }

  it("hands on each event, however the stream cuts it, passes over a line that is not JSON, and is done once at the end", async () => {
    const text = [
      JSON.stringify({ type: "ADDED", object: { metadata: { name: "p-é" }, n: 1 } }),
      "not json",
      JSON.stringify({ type: "MODIFIED", object: { metadata: { name: "p-€" }, n: 2 } }),
      JSON.stringify({ type: "DELETED", object: { metadata: { name: "q" }, n: 3 } }),
    ].join("\n") + "\n";
    const bytes = Buffer.from(text);
    let url = "";
    const api = await watchServer((seen, res) => {
      url = seen;
      res.writeHead(200, { "Content-Type": "application/json" });
      // Cut inside events and inside a multi-byte character, then end.
      const cuts = [5, bytes.indexOf("é") + 1, bytes.indexOf("€") + 2, bytes.length - 3];
      let at = 0;
      const next = () => {
        const cut = cuts.shift();
        if (cut === undefined) return void res.end(bytes.subarray(at));
        res.write(bytes.subarray(at, cut));
        at = cut;
        setTimeout(next, 5);
      };
      next();
    });
    try {
      const { events, dones } = await watchAll(api.watch, { resourceVersion: "42", labelSelector: "a=b", fieldSelector: undefined });
      assert.deepEqual(events, [
        ["ADDED", { metadata: { name: "p-é" }, n: 1 }],
        ["MODIFIED", { metadata: { name: "p-€" }, n: 2 }],
        ["DELETED", { metadata: { name: "q" }, n: 3 }],
      ]);
      assert.deepEqual(dones, [null]);
      assert.equal(url, "/api/v1/pods?watch=true&resourceVersion=42&labelSelector=a%3Db");
    } finally {
      api.close();
    }
  });

  it("is done with the status code when the watch is refused, as an informer reads a 410", async () => {
    const api = await watchServer((_url, res) => res.writeHead(410, { "Content-Type": "application/json" }).end(JSON.stringify({ kind: "Status", code: 410 })));
    try {
      const { events, dones } = await watchAll(api.watch);
      assert.deepEqual(events, []);
      assert.equal(dones.length, 1);
      assert.equal((dones[0] as { statusCode?: number }).statusCode, 410);
    } finally {
      api.close();
    }
  });

  it("is done with a refusal before its start returns, as client-node's Watch is, naming what it watched", async () => {
    const api = await watchServer((_url, res) => res.writeHead(404, { "Content-Type": "text/plain" }).end("404 page not found\n"));
    try {
      const dones: unknown[] = [];
      await api.watch.watch("/apis/scriptrun.dev/v1alpha1/scriptruns", {}, () => {}, (err) => dones.push(err));
      assert.equal(dones.length, 1, "done before watch() returned");
      assert.equal((dones[0] as { statusCode?: number }).statusCode, 404);
      assert.equal((dones[0] as Error).message, "Not Found: the watch of /apis/scriptrun.dev/v1alpha1/scriptruns");
    } finally {
      api.close();
    }
  });

  it("ends a watch still waiting for its answer when stopped, and any asked for after", async () => {
    const api = await watchServer((_url, res) => setTimeout(() => {
      if (!res.destroyed) res.writeHead(200, { "Content-Type": "application/json" }).end(`${JSON.stringify({ type: "ADDED", object: { n: 1 } })}\n`);
    }, 300));
    try {
      const events: string[] = [];
      const dones: unknown[] = [];
      const started = api.watch.watch("/api/v1/pods", {}, (type) => events.push(type), (err) => dones.push(err));
      await new Promise((resolve) => setTimeout(resolve, 50));
      api.watch.stop();
      await started;
      await api.watch.watch("/api/v1/pods", {}, (type) => events.push(type), (err) => dones.push(err));
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.deepEqual(events, []);
      assert.equal(dones.length, 2);
      assert.ok(dones.every((err) => err instanceof Error));
    } finally {
      api.close();
    }
  });

  it("is done with an error when the watch gets no answer in time", async () => {
    const api = await watchServer(() => undefined);
    try {
      const kc = kubeConfigFor(api.url);
      const dones: unknown[] = [];
      await new LineWatch(reuseConnections(kc), 100).watch("/api/v1/pods", {}, () => {}, (err) => dones.push(err));
      assert.equal(dones.length, 1);
      assert.equal((dones[0] as Error).message, "No answer to the watch of /api/v1/pods within 100 ms");
    } finally {
      api.close();
    }
  });

  it("stops handing on events once aborted, and is done once, with the abort's error", async () => {
    const api = await watchServer((_url, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.write(`${JSON.stringify({ type: "ADDED", object: { n: 1 } })}\n`);
      const timer = setInterval(() => res.write(`${JSON.stringify({ type: "MODIFIED", object: { n: 2 } })}\n`), 5);
      res.on("close", () => clearInterval(timer));
    });
    try {
      const events: string[] = [];
      const dones: unknown[] = [];
      const first = new Promise<void>((resolve) => {
        void api.watch.watch("/api/v1/pods", {}, (type) => {
          events.push(type);
          resolve();
        }, (err) => dones.push(err)).then((controller) => first.then(() => controller.abort()));
      });
      await first;
      await new Promise((resolve) => setTimeout(resolve, 50));
      const seen = events.length;
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(events.length, seen, "no event after the abort");
      assert.equal(dones.length, 1);
      assert.notEqual(dones[0], null);
    } finally {
      api.close();
    }
  });
});

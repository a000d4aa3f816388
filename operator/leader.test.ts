import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { CoordinationV1Api, KubeConfig, V1MicroTime } from "@kubernetes/client-node";
import { silentLogger } from "../core/log.js";
import { LeaderElector, heldBy, mayHold, observe } from "./leader.js";

const T = Date.parse("2025-06-01T12:00:00Z");

describe("leader election decisions", () => {
  it("takes a lease nobody holds", () => {
    const seen = observe(undefined, undefined, T);
    assert.equal(mayHold(undefined, "me", seen, T, 15), true);
    assert.equal(mayHold({ holderIdentity: "" }, "me", seen, T, 15), true);
  });

  it("keeps renewing its own lease", () => {
    const spec = { holderIdentity: "me", leaseDurationSeconds: 15, renewTime: new V1MicroTime(T - 60_000) };
    assert.equal(mayHold(spec, "me", observe(spec, undefined, T), T, 15), true);
  });

  it("leaves another holder's lease alone while it is renewed", () => {
    let seen = observe({ holderIdentity: "other", leaseDurationSeconds: 15, renewTime: new V1MicroTime(T) }, undefined, T);
    const renewed = { holderIdentity: "other", leaseDurationSeconds: 15, renewTime: new V1MicroTime(T + 10_000) };
    seen = observe(renewed, seen, T + 10_000);
    assert.equal(mayHold(renewed, "me", seen, T + 20_000, 15), false);
  });

  it("takes over a lease whose holder stopped renewing for a whole lease duration, by its own clock", () => {
    // The holder's clock is far ahead; only the time since this replica saw a change counts.
    const spec = { holderIdentity: "other", leaseDurationSeconds: 15, renewTime: new V1MicroTime(T + 3_600_000) };
    const seen = observe(spec, undefined, T);
    assert.equal(mayHold(spec, "me", observe(spec, seen, T + 14_000), T + 14_000, 15), false);
    assert.equal(mayHold(spec, "me", observe(spec, seen, T + 15_000), T + 15_000, 15), true);
  });

  it("reads renew times whether they arrive as strings or dates", () => {
    const asDate = observe({ holderIdentity: "o", renewTime: new V1MicroTime(T) }, undefined, T);
    const asString = observe({ holderIdentity: "o", renewTime: "2025-06-01T12:00:00.000000Z" as unknown as V1MicroTime }, asDate, T + 5000);
    assert.equal(asString, asDate);
  });

  it("counts a transition when the holder changes, not when it renews", () => {
    const taken = heldBy({ holderIdentity: "other", leaseTransitions: 4 }, "me", T, 15);
    assert.equal(taken.holderIdentity, "me");
    assert.equal(taken.leaseTransitions, 5);
    assert.equal(taken.acquireTime?.toISOString(), "2025-06-01T12:00:00.000000Z");
    const renewed = heldBy(taken, "me", T + 2000, 15);
    assert.equal(renewed.leaseTransitions, 5);
    assert.equal(renewed.acquireTime, taken.acquireTime);
    assert.equal(renewed.renewTime?.toISOString(), "2025-06-01T12:00:02.000000Z");
    assert.equal(heldBy(undefined, "me", T, 15).leaseTransitions, 0);
  });
});

describe("a leader whose renewal hangs", () => {
  it("gives up leadership by its deadline, not whenever the call answers", async function () {
    this.timeout(10_000);
    // An apiserver stand-in keeping one Lease, until it stops answering (a connection that died
    // without a word looks the same).
    let lease: { metadata: Record<string, unknown> } | undefined;
    let hanging = false;
    const json = { "Content-Type": "application/json" };
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => { body += chunk.toString(); });
      req.on("end", () => {
        if (hanging) return;
        if (req.method === "GET") {
          if (lease) res.writeHead(200, json).end(JSON.stringify(lease));
          else res.writeHead(404, json).end(JSON.stringify({ kind: "Status", code: 404 }));
          return;
        }
        const sent = JSON.parse(body) as { metadata: Record<string, unknown> };
        lease = { ...sent, metadata: { ...sent.metadata, resourceVersion: String(Date.now()) } };
        res.writeHead(req.method === "POST" ? 201 : 200, json).end(JSON.stringify(lease));
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "c", server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
      users: [{ name: "u", token: "t" }], contexts: [{ name: "x", cluster: "c", user: "u" }], currentContext: "x",
    });
    const elector = new LeaderElector(kc.makeApiClient(CoordinationV1Api), {
      enabled: true, leaseName: "l", leaseNamespace: "ns", identity: "me", leaseDurationSeconds: 3, renewPeriodSeconds: 1,
    }, silentLogger());
    const stop = new AbortController();
    try {
      assert.equal(await elector.acquire(stop.signal), true);
      hanging = true;
      const began = Date.now();
      // Renewals every second; leadership is given up 2 s (two thirds of the lease) after the last.
      assert.equal(await elector.hold(stop.signal), "lost");
      assert.ok(Date.now() - began < 4000, `lost after ${Date.now() - began} ms`);
    } finally {
      stop.abort();
      server.close();
      server.closeAllConnections();
    }
  });
});

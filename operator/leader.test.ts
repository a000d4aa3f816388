import assert from "node:assert/strict";
import { once } from "node:events";
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { CoordinationV1Api, V1MicroTime } from "@kubernetes/client-node";
import { silentLogger } from "../core/log.js";
import { CALL_CONNECTIONS, JsonClient, reuseConnections } from "../core/kube.js";
import { kubeConfigFor, selfSignedServer } from "../core/testkit.js";
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

/** What an apiserver stand-in does with a request: answers it, or once `mode` is "hang" nothing
 * (a connection that died without a word looks the same); once "slow", it answers a read after
 * `slowMs` and no write; once "fail", 500 to everything at once. */
interface LeaseState {
  mode: "answer" | "hang" | "slow" | "fail";
  lease?: { metadata: Record<string, unknown> };
}

/** An apiserver stand-in keeping one Lease, as `state` says. */
function leaseHandler(state: LeaseState, slowMs = 0) {
  const json = { "Content-Type": "application/json" };
  return (req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (chunk: Buffer) => { body += chunk.toString(); });
    req.on("end", () => {
      if (state.mode === "hang" || (state.mode === "slow" && req.method !== "GET")) return;
      if (state.mode === "fail") {
        res.writeHead(500, json).end(JSON.stringify({ kind: "Status", code: 500 }));
        return;
      }
      if (req.method === "GET") {
        const answer = () => {
          if (state.lease) res.writeHead(200, json).end(JSON.stringify(state.lease));
          else res.writeHead(404, json).end(JSON.stringify({ kind: "Status", code: 404 }));
        };
        if (state.mode === "slow") setTimeout(answer, slowMs);
        else answer();
        return;
      }
      const sent = JSON.parse(body) as { metadata: Record<string, unknown> };
      state.lease = { ...sent, metadata: { ...sent.metadata, resourceVersion: String(Date.now()) } };
      res.writeHead(req.method === "POST" ? 201 : 200, json).end(JSON.stringify(state.lease));
    });
  };
}

const settings = (leaseDurationSeconds: number, renewPeriodSeconds = 1) => ({
  enabled: true, leaseName: "l", leaseNamespace: "ns", identity: "me", leaseDurationSeconds, renewPeriodSeconds,
});

describe("a leader whose renewal hangs", () => {
  async function leaseServer(slowMs = 0) {
    const state: LeaseState = { mode: "answer" };
    const server = createServer(leaseHandler(state, slowMs));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const kc = kubeConfigFor(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return { state, api: kc.makeApiClient(CoordinationV1Api), close: () => server.close().closeAllConnections() };
  }

  /** Milliseconds from the apiserver turning to `mode` until the leader, holding a lease of
   * `leaseSeconds` renewed every `periodSeconds`, gives leadership up. */
  async function msUntilLost(leaseSeconds: number, mode: "hang" | "slow" | "fail", slowMs = 0, periodSeconds = 1): Promise<number> {
    const apiserver = await leaseServer(slowMs);
    const elector = new LeaderElector(apiserver.api, settings(leaseSeconds, periodSeconds), silentLogger());
    const stop = new AbortController();
    try {
      assert.equal(await elector.acquire(stop.signal), true);
      apiserver.state.mode = mode;
      const began = Date.now();
      assert.equal(await elector.hold(stop.signal), "lost");
      return Date.now() - began;
    } finally {
      stop.abort();
      apiserver.close();
    }
  }

  it("gives up leadership by its deadline, not whenever the call answers", async function () {
    this.timeout(10_000);
    // Leadership is given up 2 s (two thirds of the lease) after the last renewal.
    const ms = await msUntilLost(3, "hang");
    assert.ok(ms < 4000, `lost after ${ms} ms`);
  });

  it("gives a renewal's read and write one deadline together, not one each", async function () {
    this.timeout(15_000);
    // A 6 s lease: the first renewal, 1 s after the last, has 3 s left. Its read answers after
    // 2.5 s and its write never: leadership goes at 4 s, not when a write with 3 s of its own
    // would have failed (6.5 s).
    const ms = await msUntilLost(6, "slow", 2500);
    assert.ok(ms < 5500, `lost after ${ms} ms`);
  });

  it("gives leadership up at the deadline when renewals fail, not a renew period past it", async function () {
    this.timeout(10_000);
    // A 4 s lease renewed every 2 s (the longest period allowed): the deadline is 2.67 s after the
    // last renewal. A renewal failing at 2 s is not followed by another at 4 s, when the lease
    // has run out and another replica may hold it: leadership goes at the deadline.
    const ms = await msUntilLost(4, "fail", 0, 2);
    assert.ok(ms < 3500, `lost after ${ms} ms`);
  });
});

describe("a leader beside a busy controller", () => {
  it(`takes its lease while all ${CALL_CONNECTIONS} of the controller's connections wait`, async function () {
    this.timeout(10_000);
    const state: LeaseState = { mode: "answer" };
    const serve = leaseHandler(state);
    let waiting = 0;
    const { server, url, ca } = await selfSignedServer((req, res) => {
      // The controller's calls: each holds its connection, unanswered.
      if (req.url?.startsWith("/busy")) waiting++;
      else serve(req, res);
    });
    const kc = reuseConnections(kubeConfigFor(url, ca));
    const calls = new JsonClient(kc);
    const busy = Array.from({ length: CALL_CONNECTIONS + 1 }, () => calls.request("GET", "/busy").catch(() => undefined));
    const stop = new AbortController();
    try {
      while (waiting < CALL_CONNECTIONS) await sleep(10);
      // On the controller's connections, the lease's read would wait for one: past this test's
      // 3 s, and in the controller past the 10 s a renewal has.
      const elector = LeaderElector.forCluster(kc, settings(15), silentLogger());
      const acquired = elector.acquire(stop.signal);
      assert.equal(await Promise.race([acquired, sleep(3000, "still waiting", { ref: false })]), true);
      assert.equal((state.lease as { spec?: { holderIdentity?: string } } | undefined)?.spec?.holderIdentity, "me");
      assert.equal(waiting, CALL_CONNECTIONS, "the controller's calls beyond its connections still wait for one");
    } finally {
      stop.abort();
      server.closeAllConnections();
      server.close();
      await Promise.all(busy);
    }
  });
});

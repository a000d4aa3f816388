import assert from "node:assert/strict";
import { COMPONENTS, type Component } from "./cpuAccount.js";
import { type WindowTotals, beyond, costOf, costTable, requestDelta, watchEventDelta } from "./cost.js";
import { parseMetrics } from "./prometheus.js";

const request = (verb: string, resource: string, subresource: string, code: string, value: number, group = "") =>
  `apiserver_request_total{code="${code}",component="apiserver",dry_run="",group="${group}",resource="${resource}",scope="namespace",` +
  `subresource="${subresource}",verb="${verb}",version="v1"} ${value}`;

const BEFORE = parseMetrics([
  "# TYPE apiserver_request_total counter",
  request("POST", "pods", "", "201", 10),
  request("PATCH", "pods", "status", "200", 40),
  request("GET", "", "/healthz", "200", 3),
  request("POST", "events", "", "201", 50),
  'apiserver_watch_events_total{group="",resource="pods",version="v1"} 100',
  'apiserver_watch_events_total{group="scriptrun.dev",resource="scriptruns",version="v1alpha1"} 7',
].join("\n"));
const AFTER = parseMetrics([
  request("POST", "pods", "", "201", 14),
  request("POST", "pods", "", "409", 1),
  request("PATCH", "pods", "status", "200", 40),
  request("GET", "", "/healthz", "200", 9),
  request("POST", "events", "", "201", 58),
  request("PATCH", "events", "", "200", 2, "events.k8s.io"),
  request("DELETE", "configmaps", "", "200", 4),
  request("LIST", "configmaps", "", "200", 4),
  'apiserver_watch_events_total{group="",resource="pods",version="v1"} 180',
  'apiserver_watch_events_total{group="scriptrun.dev",resource="scriptruns",version="v1alpha1"} 27',
].join("\n"));

const components = (ms: Partial<Record<Component, number>>) =>
  ({ ...Object.fromEntries(COMPONENTS.map((c) => [c, 0])), ...ms }) as Record<Component, number>;

const totals = (ms: Partial<Record<Component, number>>, podsMs: number, hostMs: number, requests: Record<string, number>,
  watchEvents: Record<string, number> = {}): WindowTotals => ({ windowMs: 60_000, components: components(ms), podsMs, hostMs, requests, watchEvents });

describe("what a run costs the node", () => {
  it("counts the apiserver's requests between two scrapes by verb and resource, every answer code, none of the non-resource ones", () => {
    assert.deepEqual(requestDelta(BEFORE, AFTER), {
      "create events": 8, "create pods": 5, "delete configmaps": 4, "list configmaps": 4, "patch events": 2,
    });
    assert.deepEqual(watchEventDelta(BEFORE, AFTER), { pods: 80, "scriptruns.scriptrun.dev": 20 });
  });

  it("divides by the runs completed: the shims without their pods, the rest of the host, the writes and the events", () => {
    const cost = costOf(totals({ controller: 200, "kube-apiserver": 1000, shims: 900 }, 600, 4000,
      { "create pods": 4, "patch scriptruns/status": 12, "get pods": 8, "create events": 6, "patch events": 2 }, { pods: 30 }), 4);
    assert.equal(cost.completed, 4);
    assert.equal(cost.cpuMs.controller, 50);
    assert.equal(cost.cpuMs["shims-runc"], 75);
    assert.equal(cost.cpuMs.pods, 150);
    assert.equal(cost.cpuMs.rest, (4000 - 200 - 1000 - 900) / 4);
    assert.equal(cost.cpuMs.host, 1000);
    assert.equal(cost.writes, (4 + 12 + 6 + 2) / 4);
    assert.equal(cost.events, 2);
    assert.deepEqual(cost.watchEvents, { pods: 7.5 });
  });

  it("sets a run beside a bare pod: the difference of every figure either has, and a table of the three", () => {
    const run = costOf(totals({ controller: 300, kubelet: 500 }, 1000, 3000,
      { "create pods": 10, "create configmaps": 10, "patch scriptruns/status": 50, "list leases": 1 }, { scriptruns: 70, pods: 100 }), 10);
    const bare = costOf(totals({ kubelet: 400 }, 400, 2000, { "create pods": 10, "list leases": 2 }, { pods: 60 }), 10);
    const more = beyond(run, bare);
    assert.deepEqual([more.cpuMs.controller, more.cpuMs.kubelet, more.cpuMs.pods, more.cpuMs.host], [30, 10, 60, 100]);
    assert.deepEqual(more.requests, { "create configmaps": 1, "create pods": 0, "list leases": -0.1, "patch scriptruns/status": 5 });
    assert.equal(more.writes, 6);
    assert.deepEqual(more.watchEvents, { pods: 4, scriptruns: 7 });
    const table = costTable(run, bare);
    assert.match(table, /CPU ms {2}controller \(\+ preflight helpers\) +30 +0 +30/);
    assert.match(table, /apiserver writes +7 +1 +6/);
    assert.match(table, / {2}patch scriptruns\/status +5 +0 +5/);
    assert.match(table, /watch events sent: scriptruns +7 +0 +7/);
    // Background below half a request per run is left to latest.json.
    assert.doesNotMatch(table, /list leases/);
  });
});

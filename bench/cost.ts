// What one run costs the node, against one bare pod: over a phase's window, the CPU of each
// process (cpuAccount.ts), the pods' (their cgroup) and the host's (/proc/stat), and the requests
// the apiserver served by verb and resource, the watch events it sent and the events created
// (its /metrics, read with the bench's kubeconfig before and after); then each divided by the runs
// (or bare pods) completed in the window, and the difference: what a run costs beyond a bare pod.
import { request } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";
import { COMPONENTS, type Component, ProcessSampler, podsCpuMs } from "./cpuAccount.js";
import { type Sample, parseMetrics } from "./prometheus.js";
import { formatTable } from "./report.js";
import { round1 } from "./stats.js";
import { hostBusyMs } from "./warm.js";

/** The lines of the CPU account: the processes', the shims' without the pods they ran, the pods',
 * and the rest of the host (its busy time minus all of those). */
export const CPU_LINES = [...COMPONENTS.filter((c) => c !== "shims"), "shims-runc", "pods", "rest", "host"] as const;
export type CpuLine = (typeof CPU_LINES)[number];

const VERBS: Record<string, string> = {
  POST: "create", PUT: "update", PATCH: "patch", DELETE: "delete", DELETECOLLECTION: "deletecollection", APPLY: "apply",
  GET: "get", LIST: "list", WATCH: "watch",
};
const WRITES = new Set(["create", "update", "patch", "delete", "deletecollection", "apply"]);

export interface Cost {
  /** The window, and the runs (or bare pods) completed in it that the figures are divided by. */
  windowMs: number;
  completed: number;
  /** CPU milliseconds per completed run, by line (cpuAccount.ts, CPU_LINES). */
  cpuMs: Record<CpuLine, number>;
  /** apiserver requests per completed run, by "verb resource[/subresource]" (reads and writes). */
  requests: Record<string, number>;
  /** The writes among them (create, update, patch, delete, apply). */
  writes: number;
  /** Watch events the apiserver sent per completed run, by resource. */
  watchEvents: Record<string, number>;
  /** Events created (create or patch of an Event, either API group) per completed run. */
  events: number;
}

/** apiserver_request_total between two scrapes, by "verb resource[/subresource]"; non-resource
 * requests (/healthz, /metrics) left out. */
export function requestDelta(before: readonly Sample[], after: readonly Sample[]): Record<string, number> {
  return counterDelta(before, after, "apiserver_request_total", (l) =>
    (l.resource ? `${VERBS[l.verb ?? ""] ?? (l.verb ?? "").toLowerCase()} ${l.resource}${l.subresource ? `/${l.subresource}` : ""}` : undefined));
}

/** apiserver_watch_events_total between two scrapes, by resource (resource.group outside the core group). */
export function watchEventDelta(before: readonly Sample[], after: readonly Sample[]): Record<string, number> {
  return counterDelta(before, after, "apiserver_watch_events_total", (l) => (l.resource ? `${l.resource}${l.group ? `.${l.group}` : ""}` : undefined));
}

function counterDelta(before: readonly Sample[], after: readonly Sample[], name: string,
  keyOf: (labels: Record<string, string>) => string | undefined): Record<string, number> {
  const sum = (samples: readonly Sample[]) => {
    const out = new Map<string, number>();
    for (const s of samples) {
      const key = s.name === name ? keyOf(s.labels) : undefined;
      if (key !== undefined) out.set(key, (out.get(key) ?? 0) + s.value);
    }
    return out;
  };
  const [b, a] = [sum(before), sum(after)];
  return Object.fromEntries([...a].map(([k, v]) => [k, v - (b.get(k) ?? 0)]).filter(([, v]) => v !== 0)
    .sort(([x], [y]) => String(x).localeCompare(String(y))));
}

const isWrite = (key: string) => WRITES.has(key.split(" ")[0]!);
const isEvent = (key: string) => /^(create|patch) events$/.test(key);
const perRun = (record: Record<string, number>, n: number) =>
  Object.fromEntries(Object.entries(record).map(([k, v]) => [k, round1(v / n)]));
const sumOf = (record: Record<string, number>, pick: (key: string) => boolean) =>
  Object.entries(record).filter(([k]) => pick(k)).reduce((s, [, v]) => s + v, 0);

/** What was measured over a window, before dividing. */
export interface WindowTotals {
  windowMs: number;
  components: Record<Component, number>;
  podsMs: number;
  hostMs: number;
  requests: Record<string, number>;
  watchEvents: Record<string, number>;
}

/** The window's totals divided by the `completed` runs. */
export function costOf(totals: WindowTotals, completed: number): Cost {
  const { components: c, podsMs, hostMs } = totals;
  const counted = COMPONENTS.reduce((s, k) => s + c[k], 0);
  const cpu: Record<CpuLine, number> = {
    ...Object.fromEntries(COMPONENTS.filter((k) => k !== "shims").map((k) => [k, c[k]])) as Record<Exclude<Component, "shims">, number>,
    "shims-runc": c.shims - podsMs, pods: podsMs, rest: hostMs - counted, host: hostMs,
  };
  const n = Math.max(completed, 1);
  return {
    windowMs: round1(totals.windowMs), completed,
    cpuMs: perRun(cpu, n) as Record<CpuLine, number>,
    requests: perRun(totals.requests, n),
    writes: round1(sumOf(totals.requests, isWrite) / n),
    watchEvents: perRun(totals.watchEvents, n),
    events: round1(sumOf(totals.requests, isEvent) / n),
  };
}

/** Per run minus per bare pod, for every figure either has. */
export function beyond(run: Cost, bare: Cost): Omit<Cost, "windowMs" | "completed"> {
  const minus = (a: Record<string, number>, b: Record<string, number>) =>
    Object.fromEntries([...new Set([...Object.keys(a), ...Object.keys(b)])].sort()
      .map((k) => [k, round1((a[k] ?? 0) - (b[k] ?? 0))]));
  return {
    cpuMs: Object.fromEntries(CPU_LINES.map((k) => [k, round1(run.cpuMs[k] - bare.cpuMs[k])])) as Record<CpuLine, number>,
    requests: minus(run.requests, bare.requests),
    writes: round1(run.writes - bare.writes),
    watchEvents: minus(run.watchEvents, bare.watchEvents),
    events: round1(run.events - bare.events),
  };
}

const CPU_LABEL: Record<CpuLine, string> = {
  controller: "controller (+ preflight helpers)", api: "API (+ preflight helpers)", "kube-apiserver": "kube-apiserver", etcd: "etcd",
  "kube-scheduler": "kube-scheduler", "kube-controller-manager": "kube-controller-manager", kubelet: "kubelet (+ children)",
  "kube-proxy": "kube-proxy (+ children)", containerd: "containerd", "containerd-children": "CNI plugins, shim launchers",
  "shims-runc": "shims + runc", pods: "pods (kubepods cgroup)", bench: "bench (load, watches)", rest: "rest of the host",
  host: "host total (/proc/stat)",
};

/** Request and watch event rows below this per run and per bare pod are left out of the table
 * (the cluster's own background: lease renewals, watch bookmarks); latest.json has them all. */
export const TABLE_MIN = 0.5;

/** Per run, per bare pod and the difference, side by side. */
export function costTable(run: Cost, bare: Cost): string {
  const more = beyond(run, bare);
  const detail = (label: string, key: string, pick: (c: Omit<Cost, "windowMs" | "completed">) => Record<string, number>) => {
    const [a, b] = [pick(run)[key] ?? 0, pick(bare)[key] ?? 0];
    return Math.max(Math.abs(a), Math.abs(b)) < TABLE_MIN ? [] : [[label, a, b, pick(more)[key] ?? 0]];
  };
  const reads = (c: Pick<Cost, "requests">) => round1(sumOf(c.requests, (k) => !isWrite(k)));
  const rows: Array<Array<string | number>> = [
    ...CPU_LINES.map((k) => [`CPU ms  ${CPU_LABEL[k]}`, run.cpuMs[k], bare.cpuMs[k], more.cpuMs[k]]),
    ["apiserver writes", run.writes, bare.writes, more.writes],
    ...Object.keys(more.requests).filter(isWrite).flatMap((k) => detail(`  ${k}`, k, (c) => c.requests)),
    ["apiserver reads", reads(run), reads(bare), reads(more)],
    ...Object.keys(more.requests).filter((k) => !isWrite(k)).flatMap((k) => detail(`  ${k}`, k, (c) => c.requests)),
    ["events created", run.events, bare.events, more.events],
    ...Object.keys(more.watchEvents).flatMap((k) => detail(`watch events sent: ${k}`, k, (c) => c.watchEvents)),
  ];
  return formatTable(["", "per run", "per bare pod", "beyond a bare pod"], rows);
}

/** The apiserver's own /metrics, with the kubeconfig's credentials. */
async function apiserverMetrics(kc: KubeConfig): Promise<Sample[]> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error("The kubeconfig names no cluster");
  const url = new URL("/metrics", server);
  const options = { hostname: url.hostname, port: url.port, path: url.pathname, method: "GET" };
  await kc.applyToHTTPSOptions(options);
  const text = await new Promise<string>((resolve, reject) => {
    request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString("utf8"))
        : reject(new Error(`GET ${url} answered ${res.statusCode}`))));
      res.on("error", reject);
    }).on("error", reject).end();
  });
  return parseMetrics(text);
}

/** Starts a window: every process read, the pods' and host's CPU, the apiserver's counters.
 * `roots`: the processes found by pid (the bench's controller and API, the bench itself). */
export async function openWindow(kc: KubeConfig, roots: Partial<Record<Component, number>>): Promise<{ close(): Promise<WindowTotals> }> {
  const metricsBefore = await apiserverMetrics(kc);
  const sampler = new ProcessSampler(roots);
  sampler.start();
  const [pods, host, from] = [podsCpuMs(), hostBusyMs(), performance.now()];
  return {
    close: async () => {
      const [podsAfter, hostAfter, to] = [podsCpuMs(), hostBusyMs(), performance.now()];
      const components = sampler.stop();
      const metricsAfter = await apiserverMetrics(kc);
      if (pods === undefined || podsAfter === undefined || host === undefined || hostAfter === undefined) {
        throw new Error("No kubepods cgroup or /proc/stat on this host: the cost account needs the node to be this host");
      }
      return { windowMs: to - from, components, podsMs: podsAfter - pods, hostMs: hostAfter - host,
        requests: requestDelta(metricsBefore, metricsAfter), watchEvents: watchEventDelta(metricsBefore, metricsAfter) };
    },
  };
}

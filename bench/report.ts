// The results: the headline figures latest.json leads with, the goals they are held to, the
// table printed at the end, and the chart's rows.
import type { StageMeans } from "./breakdown.js";
import type { ChartRow, Segment } from "./chart.js";
import type { MemoryResult } from "./memory.js";
import type { PathName, WorkloadName } from "./options.js";
import type { Burst } from "./overload.js";
import type { Summary } from "./stats.js";

export interface BatchResult {
  path: PathName;
  workload: WorkloadName;
  concurrency: number;
  /** The runs that gave the right answer. */
  latency: Summary;
  errors: number;
  firstError?: string;
  /** Per run: the total minus the pod's life (created → exit reported); A and B only. */
  overhead?: Summary;
  /** The mean total minus the controller's pod_started and execution means: the literal "A minus
   * pod start and script time", which also counts the harness's own start and the kubelet's
   * report of the exit. A and B only. */
  overheadVsStagesMs?: number;
  segments: Segment[];
  stages?: StageMeans;
}

export interface Throughput {
  seconds: number;
  clients: number;
  /** Requests sent, answered 200, answered with the right result; ScriptRuns the API created, by phase. */
  sent: number;
  answered: number;
  succeeded: number;
  created: number;
  createdByPhase: Record<string, number>;
  lost: number;
  runsPerSecond: number;
  latency: Summary;
}

export interface Results {
  batches: BatchResult[];
  preflight: { api: Record<number, Summary>; direct: Record<number, Summary> };
  pythonStartup?: Summary;
  throughput?: Throughput;
  memory?: MemoryResult;
  overload?: Burst[];
}

export interface Headline {
  execute_p50_ms: number | null;
  execute_p95_ms: number | null;
  scriptrun_p50_ms: number | null;
  job_p50_ms: number | null;
  direct_p50_ms: number | null;
  overhead_p50_ms: number | null;
  preflight_p95_ms: number | null;
  throughput_runs_per_s: number | null;
  controller_rss_mb_10k: number | null;
}

/** The hello script's batch of `path` at the lowest concurrency measured. */
export function helloBatch(results: Results, path: PathName): BatchResult | undefined {
  const batches = results.batches.filter((b) => b.path === path && b.workload === "hello").sort((a, b) => a.concurrency - b.concurrency);
  return batches[0];
}

const finite = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x : null);

export function headline(results: Results): Headline {
  const p50 = (path: PathName) => finite(helloBatch(results, path)?.latency.p50);
  const lowest = Math.min(...Object.keys(results.preflight.api).map(Number));
  return {
    execute_p50_ms: p50("execute"),
    execute_p95_ms: finite(helloBatch(results, "execute")?.latency.p95),
    scriptrun_p50_ms: p50("scriptrun"),
    job_p50_ms: p50("job"),
    direct_p50_ms: p50("direct"),
    overhead_p50_ms: finite(helloBatch(results, "execute")?.overhead?.p50),
    preflight_p95_ms: finite(results.preflight.api[lowest]?.p95),
    throughput_runs_per_s: finite(results.throughput?.runsPerSecond),
    controller_rss_mb_10k: finite(results.memory?.rssMiB),
  };
}

export interface Goal {
  goal: string;
  value: number | null;
  met: boolean | null;
}

export function goals(h: Headline, results: Results): Goal[] {
  const ratio = h.job_p50_ms !== null && h.execute_p50_ms ? Math.round((h.job_p50_ms / h.execute_p50_ms) * 100) / 100 : null;
  const check = (value: number | null, ok: (v: number) => boolean) => (value === null ? null : ok(value));
  const lost = results.throughput?.lost ?? 0;
  return [
    { goal: "/execute at least 3x faster than the Job path at p50 (job p50 / execute p50)", value: ratio, met: check(ratio, (v) => v >= 3) },
    { goal: "overhead under 50 ms at p50", value: h.overhead_p50_ms, met: check(h.overhead_p50_ms, (v) => v < 50) },
    { goal: "preflight p95 under 100 ms", value: h.preflight_p95_ms, met: check(h.preflight_p95_ms, (v) => v < 100) },
    { goal: "at least 5 runs/s sustained, none lost", value: h.throughput_runs_per_s, met: check(h.throughput_runs_per_s, (v) => v >= 5 && lost === 0) },
    { goal: `controller RSS under 150 MB with ${results.memory?.runs ?? 10000} finished runs cached`, value: h.controller_rss_mb_10k,
      met: check(h.controller_rss_mb_10k, (v) => v < 150) },
  ];
}

/** Columns padded to their widest cell; numbers to the right. */
export function formatTable(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((row) => row.map((c) => (typeof c === "number" ? (Number.isFinite(c) ? String(c) : "-") : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i]?.length ?? 0)));
  const numeric = header.map((_, i) => rows.every((row) => typeof row[i] === "number"));
  return cells.map((row) => row.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd()).join("\n");
}

const PATH_LABEL: Record<PathName, string> = { execute: "A /execute", scriptrun: "B ScriptRun", job: "C Job", direct: "D direct" };

export function latencyTable(results: Results): string {
  return formatTable(
    ["path", "script", "conc", "n", "errors", "p50 ms", "p95 ms", "mean ms", "overhead p50 ms"],
    results.batches.map((b) => [PATH_LABEL[b.path], b.workload, b.concurrency, b.latency.n, b.errors, b.latency.p50, b.latency.p95,
      b.latency.mean, b.overhead?.p50 ?? Number.NaN]),
  );
}

export function chartRows(results: Results): ChartRow[] {
  return results.batches.map((b) => ({
    group: `${b.workload}, concurrency ${b.concurrency}`, label: PATH_LABEL[b.path], segments: b.segments,
  }));
}

// The figures of `make scale` (bench/results/scale.json) from what the phases measured, the goals
// side by side with them, and the tables printed. Pure.
import { percentile, round1 } from "../stats.js";
import type { Callers } from "./callers.js";
import type { CpuUse } from "./cpu.js";
import type { Drive } from "./drive.js";

/** The processes whose CPU is accounted, besides "other" (cpu.ts). */
export const ACCOUNTED = ["controller", "api", "apiserver", "etcd", "scheduler", "controllerManager", "kwok", "driver"] as const;
export type Accounted = (typeof ACCOUNTED)[number];

export interface RunsPhase {
  drive: Drive;
  /** CPU over the phase, by process. */
  cpu: Record<Accounted | "other", CpuUse>;
  hostBusyMs: number;
  rssMiB: { controller: number; api: number };
  maxWorkqueueDepth: number;
  maxRunsQueued: number;
}

export interface Figures {
  runs: number;
  /** Accepted (202) and never seen finished: still unfinished after the stall, or deleted. */
  lost: number;
  /** Finished, but not the hello script's success. */
  wrong: number;
  /** Not accepted by POST /runs (any other answer, or none). */
  refused: number;
  completed_runs_per_s: number;
  create_to_succeeded_p50_ms: number | null;
  create_to_succeeded_p95_ms: number | null;
  controller_cpu_ms_per_run: number | null;
  controller_rss_mb_peak: number;
  api_rss_mb_peak: number;
  apiserver_cpu_ms_per_run: number | null;
  etcd_cpu_ms_per_run: number | null;
  max_queue_depth: number;
  max_runs_queued: number;
  /** The controller's CPU over the phase divided by its length: how much of its one core it used. */
  controller_cores: number;
}

export function figures(phase: RunsPhase): Figures {
  const records = [...phase.drive.records.values()];
  const finished = records.filter((r) => r.finishedAt !== undefined);
  const right = finished.filter((r) => r.wrong === undefined).map((r) => r.finishedAt! - r.sentAt);
  const accepted = records.length;
  const perRun = (ms: number) => (finished.length > 0 ? round1(ms / finished.length) : null);
  const pct = (p: number) => (right.length > 0 ? Math.round(percentile(right, p)) : null);
  return {
    runs: phase.drive.sent,
    lost: accepted - finished.length,
    wrong: finished.length - right.length,
    refused: phase.drive.sent - accepted,
    completed_runs_per_s: round1(finished.length / (phase.drive.elapsedMs / 1000)),
    create_to_succeeded_p50_ms: pct(50),
    create_to_succeeded_p95_ms: pct(95),
    controller_cpu_ms_per_run: perRun(phase.cpu.controller.ms),
    controller_rss_mb_peak: round1(phase.rssMiB.controller),
    api_rss_mb_peak: round1(phase.rssMiB.api),
    apiserver_cpu_ms_per_run: perRun(phase.cpu.apiserver.ms),
    etcd_cpu_ms_per_run: perRun(phase.cpu.etcd.ms),
    max_queue_depth: phase.maxWorkqueueDepth,
    max_runs_queued: phase.maxRunsQueued,
    controller_cores: Math.round((phase.cpu.controller.ms / phase.drive.elapsedMs) * 100) / 100,
  };
}

export interface Goal {
  goal: string;
  figure: string;
  met: boolean;
}

const pct = (share: number) => `${Math.round(share * 1000) / 10}%`;

/** The issue's goals (#17) with the figures that decide them. */
export function goals(f: Figures, phase: RunsPhase, callers: Callers | null): Goal[] {
  const { controller, apiserver, etcd } = phase.cpu;
  const list: Goal[] = [
    { goal: "controller CPU at most 5 ms per run", figure: `${f.controller_cpu_ms_per_run} ms/run`, met: f.controller_cpu_ms_per_run !== null && f.controller_cpu_ms_per_run <= 5 },
    { goal: `controller RSS under 200 MB with ${f.runs} runs`, figure: `${f.controller_rss_mb_peak} MiB peak`, met: f.controller_rss_mb_peak < 200 },
    { goal: "no run lost", figure: `${f.lost} lost, ${f.wrong} wrong, ${f.refused} refused`, met: f.lost === 0 && f.wrong === 0 && f.refused === 0 },
    {
      // A Node.js controller is one thread: near one core, it is what sets the pace.
      goal: "runs/s limited by apiserver+etcd, not the controller",
      figure: `${f.completed_runs_per_s} runs/s; controller ${pct(controller.share)} of busy CPU (${f.controller_cores} cores), apiserver+etcd ${pct(apiserver.share + etcd.share)}`,
      met: f.controller_cores < 0.5 && controller.share < apiserver.share + etcd.share,
    },
  ];
  if (callers) {
    const unanswered = callers.calls - (callers.answers["200"] ?? 0) - (callers.answers["429"] ?? 0);
    const failures = Object.entries(callers.errors).filter(([kind]) => !kind.startsWith("429 "))
      .map(([kind, { count, message }]) => `${kind} ×${count}: ${message.slice(0, 120).replace(/[|\n]/g, " ")}`);
    list.push({
      goal: `${callers.calls} callers on /execute at once: every one answered`,
      figure: `${callers.right} right, ${callers.refused} refused (429), ${unanswered} other (${Object.entries(callers.answers).map(([k, v]) => `${k}: ${v}`).join(", ")})` +
        (failures.length > 0 ? ` (${failures.join("; ")})` : ""),
      met: unanswered === 0 && callers.wrong === 0,
    });
  }
  return list;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

export function goalTable(list: readonly Goal[]): string {
  return table(["goal", "measured", "verdict"], list.map((g) => [g.goal, g.figure, g.met ? "met" : "MISSED"]));
}

/** Each process's CPU over the runs phase: in all, per run, and its share of the machine's busy CPU. */
export function cpuTable(phase: RunsPhase, finished: number): string {
  const rows = Object.entries(phase.cpu).map(([name, use]) => [
    name, String(Math.round(use.ms)), finished > 0 ? String(round1(use.ms / finished)) : "-", pct(use.share),
  ]);
  rows.push(["machine (busy)", String(Math.round(phase.hostBusyMs)), finished > 0 ? String(round1(phase.hostBusyMs / finished)) : "-", "100%"]);
  return table(["process", "CPU ms", "ms/run", "share"], rows);
}

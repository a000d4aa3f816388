// How the command line prints: tables as kubectl prints them (upper-case headers, columns three
// spaces apart), -o json|yaml|name, a run's error for a person, and ages and durations.
import { stringify } from "yaml";
import type { RunError } from "../crds/schema.js";
import type { RunSummary, RunView, RuntimeInfo, RuntimeLimits } from "./backend.js";

export type Format = "table" | "wide" | "json" | "yaml" | "name";

/** Columns padded to their widest cell; the last one is not padded. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? "").length)));
  return all.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("   ").trimEnd())
    .join("\n") + "\n";
}

/** A time span as kubectl's AGE column shows it: 42s, 7m, 5h, 3d. */
export function age(fromIso: string | null, now: number): string {
  if (fromIso === null) return "<unknown>";
  const seconds = Math.max(0, Math.floor((now - Date.parse(fromIso)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 120 * 60) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 48 * 3600) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

/** A duration in milliseconds as a person reads it: 203ms, 2.5s, 4m10s. */
export function duration(ms: number | null): string {
  if (ms === null) return "";
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${Math.floor((ms % 60_000) / 1000)}s`;
}

const SUMMARY_WIDTH = 60;
const cut = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text);

/** `list` and `get` as a table; wide adds the namespace and creation time, and the whole summary. */
export function runTable(runs: RunSummary[], wide: boolean, now: number): string {
  const header = wide
    ? ["NAMESPACE", "NAME", "PHASE", "DURATION", "RESULT", "CREATED", "CANCEL-REQUESTED", "AGE"]
    : ["NAME", "PHASE", "DURATION", "RESULT", "AGE"];
  const rows = runs.map((r) => {
    const phase = r.phase ?? "Pending";
    const summary = (r.summary ?? "").replace(/\s+/g, " ");
    return wide
      ? [r.namespace, r.name, phase, duration(r.durationMs), summary, r.createdAt ?? "", String(r.cancelRequested), age(r.createdAt, now)]
      : [r.name, phase, duration(r.durationMs), cut(summary, SUMMARY_WIDTH), age(r.createdAt, now)];
  });
  return table(header, rows);
}

/** A whole run as a line of `list`. */
export function summaryOf(view: RunView): RunSummary {
  const summary = (view.status as { summary?: unknown }).summary;
  return {
    name: view.name ?? "", namespace: view.namespace, phase: view.phase, createdAt: view.createdAt,
    summary: typeof summary === "string" ? summary : null, durationMs: view.durationMs, cancelRequested: view.cancelRequested,
  };
}

/** `runtimes` as a table: what a run gets by default and the most it may ask for, as
 * timeout/cpu/memory (wide: /pids/outputBytes too, and the image). */
export function runtimeTable(runtimes: RuntimeInfo[], wide: boolean): string {
  const limits = (l: RuntimeLimits) => [`${l.timeoutSeconds}s`, l.cpu, l.memory, ...(wide ? [String(l.pids), String(l.outputBytes)] : [])].join("/");
  const header = ["NAME", "DEFAULT", "DEFAULTS", "MAXIMA", "MODULES", ...(wide ? ["IMAGE"] : [])];
  return table(header, runtimes.map((r) => [
    r.name, r.default ? "true" : "", limits(r.defaults), limits(r.maxima), r.modules.join(",") || "-", ...(wide ? [r.image] : []),
  ]));
}

/** A value as -o json or -o yaml prints it. */
export function structured(value: unknown, format: "json" | "yaml"): string {
  return format === "json" ? `${JSON.stringify(value, null, 2)}\n` : stringify(value);
}

/** A run's error for a person: type and message, where, the traceback, and what may help. */
export function errorText(error: RunError): string {
  // A syntax error's message says its line already (preflight's "invalid syntax (line 1)").
  const where = error.line !== undefined && !error.message.endsWith(`(line ${error.line})`) ? ` (line ${error.line})` : "";
  const lines = [`${error.type}: ${error.message}${where}`];
  if (error.traceback) lines.push(`Traceback (most recent call last):\n${error.traceback.replace(/\n$/, "")}`);
  for (const suggestion of error.suggestions ?? []) lines.push(`hint: ${suggestion}`);
  if ((error.availableFunctions ?? []).length > 0) lines.push(`the script defines: ${error.availableFunctions!.join(", ")}`);
  return `${lines.join("\n")}\n`;
}

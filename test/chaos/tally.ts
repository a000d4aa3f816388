// The figures of a chaos scenario, from what it saw: every run it asked for, as the apiserver last
// showed it and when it was first seen finished; every pod of the namespace, as a watch saw it over
// the whole scenario; and the pods the controller said ran nothing. Pure, so the rules are tested
// on their own (tally.test.ts).
import { isDeepStrictEqual } from "node:util";
import type { Expected } from "./workload.js";

/** A run as the apiserver last showed it; `endedAt` (ms) when it was first seen finished. */
export interface RunView {
  uid: string;
  phase?: string;
  result?: unknown;
  stdout?: string;
  error?: { type: string; message: string };
  start?: string;
  endedAt?: number;
}

/** A run the scenario asked for; `acknowledged` when its creation was answered (a create that
 * failed during an outage may still have made it, and then it counts too). */
export interface Tracked {
  name: string;
  expected: Expected;
  acknowledged: boolean;
}

/** A pod as the scenario's watch saw it over its whole life. */
export interface PodTrace {
  uid: string;
  name: string;
  /** The ScriptRun that owned it last (a warm pod is its runtime's until claimed). */
  runUid?: string;
  /** Its run label: the name of the run it was made or claimed for. */
  run?: string;
  /** Its runner container was seen running or terminated. */
  started: boolean;
  /** Its runner said it ran nothing (a warm runner that got no whole request). */
  unrun: boolean;
}

export interface Seen {
  runs: ReadonlyMap<string, RunView>;
  pods: readonly PodTrace[];
  /** Pods a WarmPodUnused event of the controller names. */
  unusedPods: ReadonlySet<string>;
}

export type Fate = "ok" | "infrastructure_error" | "wrong" | "stuck" | "lost";

/** Something a scenario found wrong beyond its runs' own states (an API's answer, say). */
export interface Flag {
  fate: "wrong" | "lost" | "duplicated";
  line: string;
}

export interface ScenarioFigures {
  scenario: string;
  fault: string;
  runs: number;
  warm: number;
  cold: number;
  lost: number;
  duplicated: number;
  stuck: number;
  wrong: number;
  infrastructureError: number;
  /** From the fault undone to the last run's end, in seconds; null while a run never ended. */
  recoverSeconds: number | null;
  verdict: "pass" | "fail";
  /** One line per run that was lost, duplicated, stuck or wrong (or why the scenario broke). */
  problems: string[];
  /** What the scenario observed that is no fault of the system's: how its callers fared, why a
   * run failed with infrastructure_error. */
  notes: string[];
}

const FINISHED = ["Succeeded", "Failed"];

/** How a run ended, judged against what it had to return. */
export function fateOf(view: RunView | undefined, expected: Expected): { fate: Fate; why?: string } {
  if (!view) return { fate: "lost", why: "the run is gone" };
  if (!FINISHED.includes(view.phase ?? "")) return { fate: "stuck", why: `still ${view.phase ?? "without a phase"}` };
  if (view.phase === "Failed") {
    return view.error?.type === "infrastructure_error" ? { fate: "infrastructure_error" }
      : { fate: "wrong", why: `failed with ${view.error?.type ?? "no error"}: ${view.error?.message ?? ""}` };
  }
  if (!isDeepStrictEqual(view.result ?? null, expected.result)) return { fate: "wrong", why: `returned ${JSON.stringify(view.result)}` };
  if ((view.stdout ?? "") !== expected.stdout) return { fate: "wrong", why: `printed ${JSON.stringify(view.stdout)}` };
  return { fate: "ok" };
}

/** The pods of a run that may have run its script: started, and not said (by the runner or the
 * controller) to have run nothing. More than one is a run executed twice. */
export function executions(runUid: string, seen: Seen): string[] {
  return seen.pods.filter((p) => p.runUid === runUid && p.started && !p.unrun && !seen.unusedPods.has(p.name)).map((p) => p.name);
}

/** The scenario's figures; `undoneAt` (ms): when the fault was undone. */
export function tally(scenario: string, fault: string, tracked: readonly Tracked[], seen: Seen, undoneAt: number,
  flags: readonly Flag[] = [], said: readonly string[] = []): ScenarioFigures {
  const counts: Record<Fate, number> = { ok: 0, infrastructure_error: 0, wrong: 0, stuck: 0, lost: 0 };
  const problems: string[] = [];
  const notes = [...said];
  let duplicated = 0;
  let runs = 0;
  let lastEnd = undoneAt;
  for (const { name, expected, acknowledged } of tracked) {
    const view = seen.runs.get(name);
    // Refused during an outage, and never made: the caller was told, and there is no run.
    if (!view && !acknowledged) continue;
    runs++;
    const { fate, why } = fateOf(view, expected);
    counts[fate]++;
    if (why) problems.push(`${name}: ${fate}: ${why}`);
    if (fate === "infrastructure_error") notes.push(`${name} (${view?.start ?? "?"}): infrastructure_error: ${view?.error?.message ?? ""}`);
    if (view?.endedAt !== undefined) lastEnd = Math.max(lastEnd, view.endedAt);
    const ran = view ? executions(view.uid, seen) : [];
    if (ran.length > 1) {
      duplicated++;
      problems.push(`${name}: duplicated: ran in pods ${ran.join(", ")}`);
    }
  }
  const asked = new Set(tracked.map((t) => t.name));
  for (const name of seen.runs.keys()) {
    if (asked.has(name)) continue;
    duplicated++;
    problems.push(`${name}: duplicated: a run nobody asked for`);
  }
  for (const { fate, line } of flags) {
    if (fate === "duplicated") duplicated++;
    else counts[fate]++;
    problems.push(`${fate}: ${line}`);
  }
  const views = tracked.map((t) => seen.runs.get(t.name));
  const never = counts.stuck + counts.lost > 0;
  return {
    scenario, fault, runs,
    warm: views.filter((v) => v?.start === "warm").length,
    cold: views.filter((v) => v?.start === "cold").length,
    lost: counts.lost, duplicated, stuck: counts.stuck, wrong: counts.wrong, infrastructureError: counts.infrastructure_error,
    recoverSeconds: never ? null : Math.round((lastEnd - undoneAt) / 100) / 10,
    verdict: never || duplicated + counts.wrong > 0 ? "fail" : "pass",
    problems,
    notes,
  };
}

/** The figures of a scenario that broke before it could be judged. */
export function broken(scenario: string, fault: string, err: unknown): ScenarioFigures {
  return {
    scenario, fault, runs: 0, warm: 0, cold: 0, lost: 0, duplicated: 0, stuck: 0, wrong: 0, infrastructureError: 0,
    recoverSeconds: null, verdict: "fail", problems: [`the scenario broke: ${String((err as Error)?.stack ?? err)}`], notes: [],
  };
}

const COLUMNS: Array<[string, (f: ScenarioFigures) => string]> = [
  ["scenario", (f) => f.scenario],
  ["runs", (f) => String(f.runs)],
  ["warm/cold", (f) => `${f.warm}/${f.cold}`],
  ["lost", (f) => String(f.lost)],
  ["duplicated", (f) => String(f.duplicated)],
  ["stuck", (f) => String(f.stuck)],
  ["wrong", (f) => String(f.wrong)],
  ["infrastructure_error", (f) => String(f.infrastructureError)],
  ["recover s", (f) => (f.recoverSeconds === null ? "never" : f.recoverSeconds.toFixed(1))],
  ["verdict", (f) => f.verdict],
];

/** The figures as a Markdown table, for the terminal and the READMEs alike. */
export function table(figures: readonly ScenarioFigures[]): string {
  const rows = [COLUMNS.map(([title]) => title), ...figures.map((f) => COLUMNS.map(([, cell]) => cell(f)))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(rows[0]!), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.slice(1).map(line)].join("\n");
}

// How a ScriptRun looks in the API's answers: its outcome (what /execute answers), the whole run
// (GET /runs/:name) and a line of a list (GET /runs). Absent status fields become null or "", so
// clients see every key whatever the phase.
import { cancelRequested } from "../core/runs.js";
import type { RunError, ScriptRun } from "../crds/schema.js";
import type { Outcome, RunSummary } from "./schemas.js";

function createdAt(run: ScriptRun): string | null {
  const at = run.metadata.creationTimestamp;
  if (at === undefined) return null;
  return at instanceof Date ? at.toISOString() : at;
}

export function outcomeOf(run: ScriptRun): Outcome {
  const status = run.status ?? {};
  const phase = status.phase ?? null;
  return {
    name: run.metadata.name ?? null,
    namespace: run.metadata.namespace ?? "",
    success: phase === "Succeeded" ? true : phase === "Failed" ? false : null,
    phase,
    // Absent means null (a None result is stored as no result at all).
    result: status.result ?? null,
    stdout: status.stdout ?? "",
    stderr: status.stderr ?? "",
    error: status.error ?? null,
    exitCode: status.exitCode ?? null,
    durationMs: status.durationMs ?? null,
  };
}

/** The answer to a run that preflight refused: no ScriptRun, no pod. */
export function refusedOutcome(namespace: string, error: RunError): Outcome {
  return {
    name: null, namespace, success: false, phase: "Failed", result: null, stdout: "", stderr: "", error, exitCode: null, durationMs: 0,
  };
}

export function runView(run: ScriptRun) {
  return {
    ...outcomeOf(run),
    createdAt: createdAt(run),
    cancelRequested: cancelRequested(run),
    spec: run.spec,
    status: run.status ?? {},
  };
}

export function runSummary(run: ScriptRun): RunSummary {
  return {
    name: run.metadata.name ?? "",
    namespace: run.metadata.namespace ?? "",
    phase: run.status?.phase ?? null,
    createdAt: createdAt(run),
    summary: run.status?.summary ?? null,
    durationMs: run.status?.durationMs ?? null,
    cancelRequested: cancelRequested(run),
  };
}

// The status a ScriptRun should have at each step (Queued, Pending, Running, finished), built
// whole from what was observed so that a merge patch against the current status says exactly
// what changed. Conditions follow the API conventions: Accepted, PodCreated, Finished, each with a
// CamelCase reason, keeping lastTransitionTime while their status stays the same.
import { runError } from "../core/runError.js";
import { isoTime } from "../core/time.js";
import type { Condition, ErrorType, RunError, RunRuntime, Sandbox, ScriptRun, ScriptRunStatus } from "../crds/schema.js";
import { fitError, fitOutput, jsonBytes } from "./statusBudget.js";

export type Start = "warm" | "cold";

/** The pod a run has: its name, what it runs on, and whether it was started for the run. */
export interface RunPod {
  name: string;
  runtime?: RunRuntime;
  start: Start;
}

export interface RunOutcome {
  /** Absent when the run succeeded. */
  error?: RunError;
  result?: unknown;
  stdout?: string;
  stderr?: string;
  stdoutTruncated?: boolean;
  stderrTruncated?: boolean;
  exitCode?: number;
  durationMs?: number;
  sandbox?: Sandbox;
  podName?: string;
  /** What the run ran on, once it has a pod. */
  runtime?: RunRuntime;
  start?: Start;
  startedAt?: string;
  finishedAt: string;
}

// Room for conditions, summary and the other small status fields.
const STATUS_OVERHEAD_BYTES = 8 * 1024;
const SUMMARY_LENGTH = 60;
const MESSAGE_LENGTH = 1024;
// Errors found before any pod exists: the run was not accepted.
const REFUSALS: readonly ErrorType[] = ["invalid_input", "syntax_error", "missing_entrypoint", "disallowed_import"];

/** runtime_error → RuntimeError. */
export function reasonOf(type: ErrorType): string {
  return type.split("_").map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join("");
}

export function conditionOf(run: ScriptRun, type: string): Condition | undefined {
  return run.status?.conditions?.find((c) => c.type === type);
}

/** Whether preflight and the caps already passed for this generation (no need to check again). */
export function isAccepted(run: ScriptRun): boolean {
  const accepted = conditionOf(run, "Accepted");
  return accepted?.status === "True" && accepted.observedGeneration === run.metadata.generation;
}

type ConditionUpdate = Pick<Condition, "type" | "status" | "reason" | "message">;

const CONDITION_ORDER = ["Accepted", "PodCreated", "Finished"];

function withConditions(run: ScriptRun, updates: ConditionUpdate[], now: number): Condition[] {
  const generation = run.metadata.generation;
  const conditions = (run.status?.conditions ?? []).filter((c) => !updates.some((u) => u.type === c.type));
  for (const update of updates) {
    const previous = conditionOf(run, update.type);
    const lastTransitionTime = previous?.status === update.status ? previous.lastTransitionTime : isoTime(now);
    conditions.push({ ...update, lastTransitionTime, ...(generation !== undefined ? { observedGeneration: generation } : {}) });
  }
  return conditions.sort((a, b) => CONDITION_ORDER.indexOf(a.type) - CONDITION_ORDER.indexOf(b.type));
}

const ACCEPTED: ConditionUpdate = {
  type: "Accepted", status: "True", reason: "Accepted", message: "The script passed preflight and its runtime's limits",
};

function base(run: ScriptRun): Pick<ScriptRunStatus, "observedGeneration"> {
  return run.metadata.generation !== undefined ? { observedGeneration: run.metadata.generation } : {};
}

export function queuedStatus(run: ScriptRun, position: number, now: number): ScriptRunStatus {
  return {
    ...base(run),
    phase: "Queued",
    queuePosition: position,
    summary: `Queued at position ${position}`,
    conditions: withConditions(run, [
      ACCEPTED,
      { type: "PodCreated", status: "False", reason: "Queued", message: `Waiting for capacity; position ${position} in the queue` },
      { type: "Finished", status: "False", reason: "Queued", message: "Waiting for capacity" },
    ], now),
  };
}

/** An object that holds the name of a run's pod or ConfigMap. `earlierRun`: an earlier run of
 * the same name owns it, and it goes with that run; else nothing will remove it but a user. */
export interface NameHolder {
  kind: "Pod" | "ConfigMap";
  name: string;
  earlierRun: boolean;
}

/** The run cannot have its pod yet: another object holds the name its pod or ConfigMap needs. */
export function waitingForNameStatus(run: ScriptRun, holder: NameHolder, now: number): ScriptRunStatus {
  const { kind, name, earlierRun } = holder;
  const [reason, summary, message] = earlierRun
    ? ["EarlierRunTerminating", `Waiting for ${kind} ${name} to be deleted`, `Waiting for ${kind} ${name}, of an earlier run of this name, to be deleted`]
    : ["NameTaken", `${kind} ${name} holds this run's name`, `${kind} ${name}, which no run owns, holds the name this run's ${kind} needs; the run starts once it is deleted`];
  return {
    ...base(run),
    phase: "Pending",
    summary: clip(summary),
    conditions: withConditions(run, [
      { type: "PodCreated", status: "False", reason, message },
      { type: "Finished", status: "False", reason, message: "Not started yet" },
    ], now),
  };
}

/** The pod exists; `startedAt` once its container runs. */
export function podStatus(run: ScriptRun, pod: RunPod, startedAt: string | undefined, now: number,
  waitingFor?: string): ScriptRunStatus {
  const { name: podName, runtime, start } = pod;
  return {
    ...base(run),
    phase: startedAt ? "Running" : "Pending",
    podName,
    start,
    ...(runtime ? { runtime } : {}),
    ...(startedAt ? { startedAt } : {}),
    conditions: withConditions(run, [
      ACCEPTED,
      start === "warm"
        ? { type: "PodCreated", status: "True", reason: "WarmPodClaimed", message: `Claimed warm pod ${podName}` }
        : { type: "PodCreated", status: "True", reason: "PodCreated", message: `Created pod ${podName}` },
      startedAt
        ? { type: "Finished", status: "False", reason: "Running", message: "The script is running" }
        : { type: "Finished", status: "False", reason: "PodPending", message: clip(waitingFor ?? "Waiting for the runner pod to start", MESSAGE_LENGTH) },
    ], now),
  };
}

function firstLine(text: string): string {
  return text.split("\n", 1)[0] ?? "";
}

/** `text` cut to `length` UTF-16 units, the last an ellipsis, never between the halves of a pair
 * (an emoji cut there is U+FFFD once the apiserver stores it). */
function clip(text: string, length = SUMMARY_LENGTH): string {
  if (text.length <= length) return text;
  const cut = /[\ud800-\udbff]/.test(text[length - 2] ?? "") ? length - 2 : length - 1;
  return `${text.slice(0, cut)}…`;
}

/** The printer column: the result as JSON, or `type: message`, cut to ~60 characters. */
export function summarize(outcome: Pick<RunOutcome, "error" | "result">): string {
  if (outcome.error) return clip(`${outcome.error.type}: ${firstLine(outcome.error.message)}`);
  return clip(JSON.stringify(outcome.result ?? null));
}

export interface FinishSettings {
  /** The most bytes the whole ScriptRun may take in etcd. */
  maxObjectBytes: number;
}

/** The final status: Succeeded or Failed, with the outcome fitted into what etcd can store. */
export function finishedStatus(run: ScriptRun, outcome: RunOutcome, settings: FinishSettings, now: number): ScriptRunStatus {
  // The error's own texts first (cut to fixed sizes), then the output in what is left.
  const fittedError = outcome.error && fitError(outcome.error);
  const budget = settings.maxObjectBytes - jsonBytes({ metadata: run.metadata, spec: run.spec })
    - jsonBytes({ ...fittedError, traceback: undefined }) - STATUS_OVERHEAD_BYTES;
  const fitted = fitOutput({
    result: outcome.result, stdout: outcome.stdout, stderr: outcome.stderr,
    stdoutTruncated: outcome.stdoutTruncated, stderrTruncated: outcome.stderrTruncated, traceback: fittedError?.traceback,
  }, budget);
  let error = fittedError && (fitted.traceback !== undefined ? { ...fittedError, traceback: fitted.traceback } : fittedError);
  if (!error && fitted.resultBytes !== undefined) {
    error = runError("output_limit", `The result is ${fitted.resultBytes} bytes; a ScriptRun can hold about ${Math.max(0, budget)} more`,
      ["Return a smaller result, or write bulk data to stdout."]);
  }
  const podName = outcome.podName ?? run.status?.podName;
  const runtime = outcome.runtime ?? run.status?.runtime;
  const start = outcome.start ?? run.status?.start;
  const accepted = podName !== undefined || !error || !REFUSALS.includes(error.type);
  const reason = error ? reasonOf(error.type) : "Succeeded";
  const message = error ? clip(firstLine(error.message), MESSAGE_LENGTH) : "The script finished";
  return {
    ...base(run),
    phase: error ? "Failed" : "Succeeded",
    summary: summarize({ error, result: fitted.result }),
    ...(fitted.result !== undefined && fitted.result !== null && !error ? { result: fitted.result } : {}),
    ...(fitted.stdout !== undefined ? { stdout: fitted.stdout } : {}),
    ...(fitted.stderr !== undefined ? { stderr: fitted.stderr } : {}),
    ...(fitted.stdoutTruncated ? { stdoutTruncated: true } : {}),
    ...(fitted.stderrTruncated ? { stderrTruncated: true } : {}),
    ...(error ? { error } : {}),
    ...(outcome.exitCode !== undefined ? { exitCode: outcome.exitCode } : {}),
    ...(outcome.startedAt !== undefined ? { startedAt: outcome.startedAt } : {}),
    finishedAt: outcome.finishedAt,
    ...(outcome.durationMs !== undefined ? { durationMs: Math.round(outcome.durationMs) } : {}),
    ...(podName !== undefined ? { podName } : {}),
    ...(start !== undefined ? { start } : {}),
    ...(runtime !== undefined ? { runtime } : {}),
    ...(outcome.sandbox ? { sandbox: outcome.sandbox } : {}),
    conditions: withConditions(run, [
      accepted ? ACCEPTED : { type: "Accepted", status: "False", reason, message },
      podName !== undefined
        ? { type: "PodCreated", status: "True", reason: "PodCreated", message: `Created pod ${podName}` }
        : accepted
          ? { type: "PodCreated", status: "False", reason, message }
          : { type: "PodCreated", status: "False", reason: "NotAccepted", message: "The run was refused before any pod was made" },
      { type: "Finished", status: "True", reason, message },
    ], now),
  };
}

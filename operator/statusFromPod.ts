// Runner pod → what the run's status should be. Pure: the caller passes what it observed (the pod,
// the container log when asked for it, the time) and writes what comes back.
//   running container            → Running
//   terminated with an envelope  → the envelope's outcome (from the log when the message was cut)
//   OOMKilled                    → memory_limit      pod deadline exceeded → timeout
//   an image that can never start (never pulled, invalid name) at once, other image, config or
//   scheduling trouble past the start timeout, eviction, a vanished pod,
//   a garbled or missing envelope → infrastructure_error
import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import { type Envelope, parseEnvelopeFromLog, parseTerminationMessage, toRunError } from "../core/envelope.js";
import { infrastructureError, runError } from "../core/runError.js";
import { isoTime, toMillis } from "../core/time.js";
import type { RunError, ScriptRun, ScriptRunStatus } from "../crds/schema.js";
import { RUNNER_CONTAINER } from "./names.js";
import { requiresObjectResult, runtimeOfPod } from "./podSpec.js";
import { type FinishSettings, type RunOutcome, type RunPod, finishedStatus, podStatus } from "./runStatus.js";
import { claimedAt, runnerStatus, startedWarm } from "./warmPool.js";

// Waiting reasons no retry of the kubelet's can cure: the run fails at once rather than at the start timeout.
const HOPELESS = ["ErrImageNeverPull", "InvalidImageName"];
const IMAGE_TROUBLE = [...HOPELESS, "ErrImagePull", "ImagePullBackOff"];

export interface ObserveSettings extends FinishSettings {
  podStartTimeoutSeconds: number;
  sandboxBackend: "auto" | "nsjail" | "bubblewrap";
}

export type Observation =
  | { kind: "needsLog" }
  /** A warm pod that got no whole request and ran nothing: the run is to be started again. */
  | { kind: "unrun"; reason: string }
  | { kind: "waiting"; status: ScriptRunStatus; recheckAfterMs?: number }
  | { kind: "finished"; status: ScriptRunStatus; outcome: RunOutcome };

function isPlainObject(value: unknown): boolean {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function describeJsonType(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (Array.isArray(value)) return "a list";
  return typeof value === "string" ? "a string" : `a ${typeof value}`;
}

function outcomeOfEnvelope(run: ScriptRun, pod: V1Pod, envelope: Envelope, frame: Omit<RunOutcome, "error">, settings: ObserveSettings): RunOutcome {
  let error = envelope.success ? undefined : toRunError(envelope.error!);
  const backend = envelope.sandbox?.backend;
  if (settings.sandboxBackend !== "auto" && backend !== settings.sandboxBackend) {
    error = infrastructureError(
      `The runner used ${backend ?? "an unreported sandbox"}, but the operator requires ${settings.sandboxBackend}; the outcome was discarded`);
  } else if (!error && requiresObjectResult(pod) && (run.spec.mode ?? "function") === "function" && !isPlainObject(envelope.result)) {
    error = runError("invalid_result",
      `The runtime requires the entrypoint to return a JSON object; it returned ${describeJsonType(envelope.result)}`, ["Return a dict."]);
  }
  return {
    ...frame,
    ...(error ? { error } : { result: envelope.result }),
    ...(envelope.stdout != null ? { stdout: envelope.stdout } : {}),
    ...(envelope.stderr != null ? { stderr: envelope.stderr } : {}),
    ...(envelope.stdoutTruncated ? { stdoutTruncated: true } : {}),
    ...(envelope.stderrTruncated ? { stderrTruncated: true } : {}),
    ...(envelope.exitCode != null ? { exitCode: envelope.exitCode } : {}),
    ...(envelope.durationMs != null ? { durationMs: envelope.durationMs } : {}),
    ...(envelope.sandbox ? { sandbox: envelope.sandbox } : {}),
  };
}

function finished(run: ScriptRun, outcome: RunOutcome, settings: ObserveSettings, now: number): Observation {
  return { kind: "finished", outcome, status: finishedStatus(run, outcome, settings, now) };
}

/** The pod as a run's status names it. */
export function runPodOf(pod: V1Pod): RunPod {
  return { name: pod.metadata?.name ?? "", runtime: runtimeOfPod(pod), start: startedWarm(pod) ? "warm" : "cold" };
}

/** When the run began in its pod: a cold pod's container start; a warm pod's container started
 * before the run, which began when the pod was claimed (the claim writes when on the pod). */
function runStartedMs(pod: V1Pod, containerStartedAt: Date | string | undefined): number | undefined {
  return startedWarm(pod) ? claimedAt(pod) : toMillis(containerStartedAt);
}

/** The status of a run whose warm pod answered with its envelope on the attach stream. */
export function statusFromEnvelope(run: ScriptRun, pod: V1Pod, envelope: Envelope, now: number, settings: ObserveSettings): Observation {
  const { name, runtime, start } = runPodOf(pod);
  const startedMs = runStartedMs(pod, undefined);
  const frame: Omit<RunOutcome, "error"> = {
    podName: name, runtime, start, finishedAt: isoTime(now),
    ...(startedMs !== undefined ? { startedAt: isoTime(startedMs) } : {}),
  };
  return finished(run, outcomeOfEnvelope(run, pod, envelope, frame, settings), settings, now);
}

/** The outcome of a pod whose runner container has terminated. */
function terminatedOutcome(run: ScriptRun, pod: V1Pod, container: V1ContainerStatus, log: RunnerLog | undefined,
  settings: ObserveSettings, now: number): RunOutcome | "needsLog" | { unrun: string } {
  const terminated = container.state!.terminated!;
  const { name, runtime, start } = runPodOf(pod);
  const startedMs = runStartedMs(pod, terminated.startedAt);
  const frame: Omit<RunOutcome, "error"> = {
    podName: name,
    runtime,
    start,
    ...(startedMs !== undefined ? { startedAt: isoTime(startedMs) } : {}),
    finishedAt: isoTime(toMillis(terminated.finishedAt) ?? now),
    exitCode: terminated.exitCode,
  };
  const failed = (error: RunError): RunOutcome => ({ ...frame, error });
  const message = parseTerminationMessage(terminated.message);
  if (message.kind === "unrun") return { unrun: message.reason };
  if (message.kind === "envelope") return outcomeOfEnvelope(run, pod, message.envelope, frame, settings);
  if (message.kind === "truncated") {
    if (log === undefined) return "needsLog";
    const fromLog = typeof log === "string" ? parseEnvelopeFromLog(log) : { reason: `its log could not be read (${log.unreadable})` };
    if ("envelope" in fromLog) return outcomeOfEnvelope(run, pod, fromLog.envelope, frame, settings);
    const { marker } = message;
    const why = `the envelope was too long for the termination message and ${fromLog.reason}`;
    // The marker still says how the script ended; without the envelope a success cannot be delivered.
    if (!marker.success && marker.errorType) {
      return { ...failed(runError(marker.errorType, `The script failed with ${marker.errorType}; ${why}`)), ...(marker.durationMs != null ? { durationMs: marker.durationMs } : {}) };
    }
    return failed(infrastructureError(`The script finished but ${why}`));
  }
  if (terminated.reason === "OOMKilled") {
    const memory = pod.spec?.containers.find((c) => c.name === RUNNER_CONTAINER)?.resources?.limits?.memory;
    return failed(runError("memory_limit", `The runner container was killed for exceeding its memory limit${memory ? ` (${memory})` : ""}`,
      ["Use less memory, or ask for more with spec.resources.memory."]));
  }
  if (pod.status?.reason === "DeadlineExceeded") return failed(deadlineError(pod));
  const exit = `code ${terminated.exitCode}${terminated.reason ? ` (${terminated.reason})` : ""}`;
  return failed(infrastructureError(`The runner exited with ${exit} without a valid envelope: ${message.reason}`));
}

function deadlineError(pod: V1Pod): RunError {
  return runError("timeout", `The pod's deadline of ${pod.spec?.activeDeadlineSeconds ?? "?"} seconds passed before the script finished`,
    ["Make the script faster, or raise spec.timeoutSeconds."]);
}

// The steps of every pod's start. Saying each in the status cost a status write per step and run,
// for nothing a user could act on; a pod held up elsewhere (unschedulable, image trouble) is said.
const USUAL_START = ["", "ContainerCreating", "PodInitializing"];

function startingAsUsual(pod: V1Pod, waitingReason: string): boolean {
  return USUAL_START.includes(waitingReason) && !pod.status?.conditions?.some((c) => c.type === "PodScheduled" && c.status === "False");
}

/** Why a pod has not started: the container's waiting reason or the scheduler's. */
function notStartedReason(pod: V1Pod, container: V1ContainerStatus | undefined): string {
  const waiting = container?.state?.waiting;
  if (waiting?.reason) return `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""}`;
  const unscheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
  if (unscheduled) return `${unscheduled.reason ?? "Unschedulable"}${unscheduled.message ? `: ${unscheduled.message}` : ""}`;
  return `the pod is ${pod.status?.phase ?? "Pending"}`;
}

/** The runner's container log, or why it could not be read (reconcile.ts gives up on it in time). */
export type RunnerLog = string | { unreadable: string };

export function statusFromPod(run: ScriptRun, pod: V1Pod | undefined, log: RunnerLog | undefined, now: number,
  settings: ObserveSettings): Observation {
  const infra = (message: string, extra: Partial<RunOutcome> = {}): Observation =>
    finished(run, { ...extra, error: infrastructureError(message), finishedAt: isoTime(now) }, settings, now);
  if (!pod) return infra("The runner pod disappeared before it reported an outcome");

  const podName = pod.metadata?.name ?? "";
  const container = runnerStatus(pod);
  if (container?.state?.terminated) {
    const outcome = terminatedOutcome(run, pod, container, log, settings, now);
    if (outcome === "needsLog") return { kind: "needsLog" };
    return "unrun" in outcome ? { kind: "unrun", reason: outcome.unrun } : finished(run, outcome, settings, now);
  }

  const runPod = runPodOf(pod);
  const startedMs = container?.state?.running ? runStartedMs(pod, container.state.running.startedAt) : undefined;
  const startedAt = startedMs !== undefined ? isoTime(startedMs) : undefined;
  const { runtime, start } = runPod;
  const frame = { podName, runtime, start, ...(startedAt ? { startedAt } : {}) };
  if (pod.status?.phase === "Failed" || pod.status?.phase === "Succeeded") {
    const { reason, message, phase } = pod.status;
    if (reason === "DeadlineExceeded" && startedAt) {
      return finished(run, { ...frame, error: deadlineError(pod), finishedAt: isoTime(now) }, settings, now);
    }
    const what = reason === "Evicted" ? "was evicted" : "failed";
    return infra(`The runner pod ${what} before the script finished: ${reason ?? phase}${message ? `: ${message}` : ""}`, frame);
  }
  const disruption = pod.status?.conditions?.find((c) => c.type === "DisruptionTarget" && c.status === "True");
  if (disruption) {
    const why = `${disruption.reason ?? "DisruptionTarget"}${disruption.message ? `: ${disruption.message}` : ""}`;
    return infra(`The runner pod was disrupted before the script finished: ${why}`, frame);
  }

  const createdMs = toMillis(pod.metadata?.creationTimestamp) ?? now;
  const startLimitMs = settings.podStartTimeoutSeconds * 1000;
  if (startedAt) {
    // The kubelet stops the pod at its deadline; a pod running well past it lives on a node that stopped answering.
    const lastWordMs = createdMs + ((pod.spec?.activeDeadlineSeconds ?? 0) * 1000) + startLimitMs;
    if (now >= lastWordMs) return infra("The runner pod ran past its deadline without finishing; its node may be unreachable", frame);
    return { kind: "waiting", status: podStatus(run, runPod, startedAt, now), recheckAfterMs: lastWordMs - now };
  }
  const reason = notStartedReason(pod, container);
  const waitingReason = container?.state?.waiting?.reason ?? "";
  const image = IMAGE_TROUBLE.includes(waitingReason) && runtime
    ? ` (image "${runtime.image}" of runtime "${runtime.name}")` : "";
  if (HOPELESS.includes(waitingReason)) return infra(`The runner image cannot start: ${reason}${image}`, frame);
  if (now - createdMs >= startLimitMs) {
    return infra(`The runner pod did not start within ${settings.podStartTimeoutSeconds} seconds: ${reason}${image}`, frame);
  }
  return {
    kind: "waiting",
    status: podStatus(run, runPod, undefined, now, startingAsUsual(pod, waitingReason) ? undefined : `Waiting for the runner pod to start: ${reason}`),
    recheckAfterMs: createdMs + startLimitMs - now,
  };
}

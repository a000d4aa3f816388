// reconcile(key): level-triggered and idempotent. It reads the ScriptRun and its pod from the
// informer caches, works out what should exist, acts, and rebuilds status from what it sees; it
// never asks what event brought it here. The thinking lives in pure modules (request, admission,
// podSpec, statusFromPod, runStatus); the state this process keeps between reconciles lives in
// slots.ts (slots it reserved) and statusWriter.ts (statuses it wrote); this file dispatches and
// does the I/O through the small Kube interface.
import { ApiException, type KubernetesObject, type ObjectCache, type V1Pod } from "@kubernetes/client-node";
import { statusCode, statusMessage } from "../core/kube.js";
import { LIVE_LOG_BYTES, type Printed, printedIn } from "../core/liveOutput.js";
import type { Logger } from "../core/log.js";
import type { PreflightAnswer } from "../core/preflight.js";
import { type RunnerRequest, resolveRequest } from "../core/request.js";
import { type Runtime, missingModule, runtimeLimits } from "../core/runtime.js";
import type { Runtimes } from "../core/runtimeCatalog.js";
import { CANCEL_ANNOTATION, cancelRequested, keyOf, parseKey } from "../core/runs.js";
import { firstInexactNumber, inexactNumberReason, mayHoldInexactInteger } from "../core/exactJson.js";
import { infrastructureError, runError } from "../core/runError.js";
import { isoTime, toMillis, within } from "../core/time.js";
import { FINAL_STATUS_MESSAGE, type RunError, type RunRuntime, type ScriptRun, type ScriptRunStatus, isFinished } from "../crds/schema.js";
import type { Config } from "./config.js";
import type { EventNote } from "./events.js";
import type { Kube } from "./kube.js";
import { type Metrics, observeStage } from "./metrics.js";
import { RUNNER_CONTAINER, configMapNameFor, ownerRunUid, podNameFor } from "./names.js";
import type { OpenRuns } from "./openRuns.js";
import { buildConfigMap, buildPod, usesConfigMap } from "./podSpec.js";
import {
  type RunOutcome, conditionOf, finishedStatus, isAccepted, podStatus, queuedStatus, reasonOf, waitingForNameStatus,
  type NameHolder,
} from "./runStatus.js";
import { type SlotView, Slots } from "./slots.js";
import { runPodOf, statusFromEnvelope, statusFromPod } from "./statusFromPod.js";
import { StatusWriter, type WriteResult } from "./statusWriter.js";
import type { ProcessResult } from "./workqueue.js";
import { claimedAt, podFinished, poolServes, runnerEnded, runnerStatus, startedWarm } from "./warmPool.js";
import type { WarmRuns } from "./warmRuns.js";

export interface ReconcileDeps {
  kube: Kube;
  runs: ObjectCache<ScriptRun>;
  pods: ObjectCache<V1Pod>;
  /** The runs that can hold or wait for a slot (openRuns.ts): all the slots need to look at. */
  open: Pick<OpenRuns, "list" | "anyQueued" | "atMost">;
  preflight: { check(request: RunnerRequest): Promise<PreflightAnswer> };
  /** Which runtime a run gets (core/runtimeCatalog.ts). */
  runtimes: Runtimes;
  /** Told whether a run's pod started from its runtime's image (runtimeKeeper.ts). */
  images: { observedImage(runtime: RunRuntime, ok: boolean, message?: string): void };
  /** Claims warm pods and talks to them (warmRuns.ts). */
  warm: Pick<WarmRuns, "claim" | "send" | "answer" | "forget" | "claimedPod" | "attachedPod">;
  config: Config;
  metrics: Metrics;
  events: { record(run: ScriptRun, note: EventNote): Promise<void> };
  log: Logger;
  /** Queues a key for reconcile (waking queued runs when a slot frees). */
  enqueue: (key: string) => void;
  now?: () => number;
}

/** How long a cancel waits for its runner's log, for what the script had printed. */
export const CANCEL_LOG_WAIT_MS = 2000;

// A pod or ConfigMap of an earlier run of the same name is still being garbage-collected.
const FOREIGN_RETRY_MS = 2000;
// How long a pod whose runner ended is left for the kubelet to call it Succeeded or Failed.
const POD_END_WAIT_MS = 10_000;
// How long after its runner ended a log that cannot be read is asked for again.
export const LOG_WAIT_MS = 5 * 60_000;
// A run on a warm pod is shown Running if it has not finished this long after its claim.
const WARM_RUNNING_AFTER_MS = 200;

/** Whether a status write failed for what it carried (too large, or invalid), not for a passing
 * fault: etcd's "request is too large" and gRPC's ResourceExhausted reach us as a 500. */
function refusedAsStored(err: unknown): boolean {
  const code = statusCode(err);
  return code === 413 || code === 422 || (code === 500 && /too large|ResourceExhausted|larger than/i.test(String((err as Error).message)));
}


/** What holds a name a run's child needs. `there`: false when it was gone by the time it was read. */
function nameHolder(kind: NameHolder["kind"], holder: KubernetesObject, there = true): NameHolder {
  // An object an earlier run owns goes with that run; gone already, it was one too.
  return { kind, name: holder.metadata?.name ?? "", earlierRun: !there || ownerRunUid(holder) !== undefined };
}

/** A warm pod a run claimed, not yet being deleted. */
function isClaimed(pod: V1Pod): boolean {
  return startedWarm(pod) && !pod.metadata?.deletionTimestamp;
}

export class Reconciler {
  /** Finished runs whose stray warm pods could not all be deleted: looked at again at the retry. */
  private readonly strayChecks = new Set<string>();
  private readonly statuses: StatusWriter;
  private readonly slots: Slots;
  /** The pod whose start this process told (or found told), by run. */
  private readonly told = new Map<string, string>();
  private readonly now: () => number;

  constructor(private readonly deps: ReconcileDeps) {
    this.now = deps.now ?? Date.now;
    this.statuses = new StatusWriter(deps.kube);
    this.slots = new Slots(deps.config, deps.metrics, () => this.slotView(), deps.enqueue, deps.open);
  }

  /** `heardAt`: when the change that queued the key arrived; stage latencies start there, as
   * Kubernetes timestamps have one-second resolution. */
  async reconcile(key: string, heardAt = this.now()): Promise<ProcessResult> {
    const { namespace, name } = parseKey(key);
    const cached = this.deps.runs.get(name, namespace);
    if (!cached || cached.metadata.deletionTimestamp) return this.gone(key);
    const run = this.statuses.latest(key, cached);
    const reservedAt = this.slots.reservedAt(key, run);
    if (isFinished(run.status?.phase)) return this.afterFinish(key, run);
    const pod = this.cachedPod(run);
    // A pod whose runner already ended has the real outcome (the kubelet calls the pod Succeeded a
    // moment later): the cancel came too late to matter.
    if (cancelRequested(run) && !(pod && pod !== "foreign" && (podFinished(pod) || runnerEnded(pod)))) {
      return this.cancel(key, run, pod === "foreign" ? undefined : pod);
    }
    if (pod === "foreign") return this.awaitName(key, run, nameHolder("Pod", this.deps.pods.get(podNameFor(run.metadata.name ?? ""), run.metadata.namespace)!));
    if (pod) return this.observe(key, run, pod, heardAt);
    if (reservedAt !== undefined || run.status?.podName !== undefined) return this.podMissing(key, run, reservedAt);
    return this.start(key, run, heardAt);
  }

  /** The name of the run's pod (or ConfigMap) is held by another's, mostly an earlier run's of the
   * same name, not yet garbage-collected: the run says so, rather than show nothing, and looks
   * again shortly. A run whose status names a pod already (one started again after its warm pod
   * ran nothing) keeps that status, which its slot is counted by. */
  private async awaitName(key: string, run: ScriptRun, holder: NameHolder): Promise<ProcessResult> {
    if (run.status?.podName === undefined) await this.statuses.write(key, run, waitingForNameStatus(run, holder, this.now()));
    return { requeueAfterMs: FOREIGN_RETRY_MS };
  }

  /** The run is gone (its children go with it, by owner reference): free its slot. */
  private gone(key: string): ProcessResult {
    this.slots.release(key);
    this.strayChecks.delete(key);
    this.told.delete(key);
    this.statuses.forget(key);
    this.deps.warm.forget(key);
    this.slots.wake();
    return {};
  }

  /** An integer of the run's args or kwargs that reading the run here has rounded (kubectl sends
   * what the API refuses), as the run's own JSON writes it. Asked of the apiserver only when a whole
   * number too large for a double to hold exactly is there, which an exponent may have written too. */
  private async inexactInteger(run: ScriptRun): Promise<string | undefined> {
    if (!mayHoldInexactInteger([run.spec.args, run.spec.kwargs])) return undefined;
    const text = await this.deps.kube.readRunText(run.metadata.namespace ?? "", run.metadata.name ?? "");
    return text === undefined ? undefined : firstInexactNumber(text);
  }

  /** Deletes the warm pods a finished run claimed besides the one it ran on, each of which ran
   * nothing: a claim whose answer was lost that landed after all (the run then started on another
   * pod), or a warm pod whose removal failed after it was replaced. Nothing else looks at them, and
   * they would stay, owned by the run, for as long as the run does. */
  private async removeStrays(run: ScriptRun, own: V1Pod | undefined): Promise<void> {
    const { namespace = "" } = run.metadata;
    const ran = own?.metadata?.name ?? run.status?.podName;
    const strays = this.claimedPodsOf(run).filter((p) => p.metadata?.name !== ran);
    for (const stray of strays) {
      await this.deps.kube.deletePod(namespace, stray.metadata?.name ?? "");
      this.deps.log.info({ run: keyOf(run), pod: stray.metadata?.name }, "Deleted a warm pod the run claimed but did not run on");
    }
  }

  /** The run's pod: the one made for it (by its deterministic name), or a warm pod it claimed.
   * `claimedBy`: the claimed pods by their run's uid, when the caller looks up many runs. */
  private cachedPod(run: ScriptRun, claimedBy?: Map<string, V1Pod>): V1Pod | "foreign" | undefined {
    const { name = "", namespace, uid = "" } = run.metadata;
    const pod = this.deps.pods.get(podNameFor(name), namespace);
    if (pod) return ownerRunUid(pod) === uid ? pod : "foreign";
    // Only a run that started warm, or whose status does not say yet (claimed just before a
    // restart), can have a claimed pod: the others need no look through the namespace's pods.
    if (run.status?.start !== "warm" && run.status?.podName !== undefined) return undefined;
    // A run may own two claimed pods (a claim whose answer was lost landed after all, or a deposed
    // leader's claim landed late): the one this process sent the request to, or its status names, is its pod.
    const claimed = claimedBy ? claimedBy.get(uid) : this.ownClaimed(run, this.claimedPodsOf(run));
    // Claimed a moment ago: the cache may not show the claim yet, but the claim's answer does.
    return claimed ?? this.deps.warm.claimedPod(run, this.deps.config.podGoneGraceSeconds * 1000);
  }

  /** The warm pods the run claimed, as the cache has them: a look through its namespace's pods. */
  private claimedPodsOf(run: ScriptRun): V1Pod[] {
    const { namespace, uid = "" } = run.metadata;
    return this.deps.pods.list(namespace).filter((p) => ownerRunUid(p) === uid && isClaimed(p));
  }

  private ownClaimed(run: ScriptRun, claimed: V1Pod[]): V1Pod | undefined {
    if (claimed.length < 2) return claimed[0];
    const attached = this.deps.warm.attachedPod(keyOf(run));
    return claimed.find((p) => p.metadata?.name === attached) ?? claimed.find((p) => p.metadata?.name === run.status?.podName) ?? claimed[0];
  }

  /** A new run: refuse it, queue it, or create its pod on its runtime as it is now. */
  private async start(key: string, run: ScriptRun, heardAt: number): Promise<ProcessResult> {
    const { config, metrics } = this.deps;
    const choice = await this.deps.runtimes.choose(run.spec.runtime, run.metadata.namespace ?? "");
    if (!choice.ok) {
      return this.refuse(key, run, runError("invalid_input", choice.reason,
        ["Name a runtime of `kubectl get scriptruntimes` that this namespace may use in spec.runtime."]));
    }
    const { runtime } = choice;
    const resolution = resolveRequest(run.spec, runtimeLimits(runtime, config.maxScriptBytes));
    if (!resolution.ok) {
      return this.refuse(key, run, runError("invalid_input", resolution.reasons.join("; "),
        [`Stay within the limits of runtime "${runtime.name}" (kubectl get scriptruntime ${runtime.name} -o yaml), or use a runtime that allows more.`]));
    }
    if (!isAccepted(run)) {
      const inexact = await this.inexactInteger(run);
      if (inexact !== undefined) {
        return this.refuse(key, run, runError("invalid_input", `spec: ${inexactNumberReason(inexact)}`,
          ["Give such an integer as a string (\"12345678901234567890\") and make it an int in the script: int(value)."]));
      }
      const began = this.now();
      const answer = await this.deps.preflight.check(resolution.request);
      observeStage(metrics, "preflight", (this.now() - began) / 1000);
      if (!answer.ok) return this.refuse(key, run, answer.error);
    }
    // No await between planning and reserving: no other worker can take the same slot.
    const decision = this.slots.admits(key, run.metadata.namespace ?? "");
    if (!decision.admit) {
      const wrote = await this.statuses.write(key, run, queuedStatus(run, decision.position, this.now()));
      if (wrote === "written" && run.status?.phase !== "Queued") {
        this.deps.metrics.queuePosition.observe(decision.position);
        await this.deps.events.record(run, { type: "Normal", reason: "Queued", message: `Waiting for capacity at position ${decision.position}` });
      }
      return {};
    }
    this.slots.reserve(key, run, this.now());
    return this.launch(key, run, runtime, resolution.request, heardAt);
  }

  /** Starts an admitted run (its slot reserved): on a warm pod of its runtime's pool when one is
   * ready and fits, else on a pod made for it. `unused`: a warm pod the run claimed that ran
   * nothing; the run then starts on a pod made for it, and `unused` is deleted once that exists. */
  private async launch(key: string, run: ScriptRun, runtime: Runtime, request: RunnerRequest, heardAt: number, unused?: V1Pod): Promise<ProcessResult> {
    const { config, metrics, log, events } = this.deps;
    let claimed: V1Pod | undefined;
    try {
      claimed = unused === undefined && poolServes(runtime, request) ? await this.deps.warm.claim(run, runtime, request) : undefined;
    } catch (err) {
      // Had the claim landed after all, the retry finds the pod by its owner and resumes it.
      this.slots.release(key);
      throw err;
    }
    if (claimed) {
      this.deps.warm.send(key, claimed, request);
      const pod = runPodOf(claimed);
      observeStage(metrics, "pod_claimed", (this.now() - heardAt) / 1000);
      metrics.runsStarted.inc({ start: "warm", runtime: runtime.name });
      log.info({ run: key, pod: pod.name }, "Claimed warm pod");
      // Neither the event nor a Running status is a step of the run: a quick script's answer comes
      // before they would be written, and its outcome is then the one write. A slower one is shown
      // Running at the look asked for here (observe); the claimed pod's owner is the record.
      void this.recordStart(key, run, claimed);
      return { requeueAfterMs: WARM_RUNNING_AFTER_MS };
    }
    try {
      const holder = await this.createChildren(run, request, runtime);
      if (holder !== "created") {
        this.slots.release(key);
        return this.awaitName(key, run, holder);
      }
    } catch (err) {
      this.slots.release(key);
      if (statusCode(err) !== 422) throw err;
      return this.refuse(key, run, infrastructureError(`The apiserver refused the runner pod: ${(err as Error).message}`));
    }
    const podName = podNameFor(run.metadata.name ?? "");
    // A run with no status yet is news to this controller: time it from when the news arrived. One
    // that waited Queued, or was left by an earlier controller, counts from its creation.
    const since = run.status === undefined ? heardAt : toMillis(run.metadata.creationTimestamp) ?? heardAt;
    observeStage(metrics, "pod_created", (this.now() - since) / 1000);
    metrics.runsStarted.inc({ start: "cold", runtime: runtime.name });
    log.info({ run: key, pod: podName }, "Created pod");
    // The event and the status say the same start: neither waits for the other. Nor does the unused
    // warm pod's removal: were it to wait for them and either fail, the retry would find the run's
    // own pod and never look at the warm pod again, which would then stay as long as the run.
    const removal = unused && this.deps.kube.deletePod(run.metadata.namespace ?? "", unused.metadata?.name ?? "");
    // All three settle before a failure is passed on: a retry must not write beside this status write.
    const failed = (await Promise.allSettled([
      this.recordStart(key, run, { metadata: { name: podName } }),
      this.statuses.write(key, run, podStatus(run, { name: podName, runtime: { name: runtime.name, image: runtime.spec.image }, start: "cold" },
        undefined, this.now())),
      removal,
    ])).find((settled) => settled.status === "rejected");
    if (failed) throw failed.reason;
    return { requeueAfterMs: config.podStartTimeoutSeconds * 1000 };
  }

  /** A warm pod that ran nothing (it got no whole request): start the run again on a pod made for
   * it, then remove the warm pod. Nothing ran, so nothing runs twice; until the cold pod exists the
   * warm pod stays, so a retry after a failure here finds it and comes back here. */
  private async relaunch(key: string, run: ScriptRun, pod: V1Pod, reason: string, heardAt: number): Promise<ProcessResult> {
    const { kube, log, events, config } = this.deps;
    const { namespace = "" } = run.metadata;
    // Nothing ran, and nothing is to: a cancelled run ends here, with no time run (its pod goes after).
    if (cancelRequested(run)) return this.cancel(key, run, undefined);
    // Nothing ran here, but the run has another pod (a second claim that landed): that one is the
    // run's; this one is only removed. Asked of the apiserver, as the cache may not show it yet.
    const others = (await kube.listRunPods(namespace, run.metadata.name ?? "")).filter((p) => p.metadata?.name !== pod.metadata?.name
      && ownerRunUid(p) === run.metadata.uid && !p.metadata?.deletionTimestamp);
    if (others.length > 0) {
      log.warn({ run: key, pod: pod.metadata?.name, others: others.map((p) => p.metadata?.name) }, "Removing a pod of the run that ran nothing beside another");
      await kube.deletePod(namespace, pod.metadata?.name ?? "");
      return { requeueAfterMs: WARM_RUNNING_AFTER_MS };
    }
    log.warn({ run: key, pod: pod.metadata?.name, reason }, "Starting the run again: its warm pod ran nothing");
    const choice = await this.deps.runtimes.choose(run.spec.runtime, namespace);
    if (!choice.ok) return this.refuse(key, run, runError("invalid_input", choice.reason));
    const resolution = resolveRequest(run.spec, runtimeLimits(choice.runtime, config.maxScriptBytes));
    if (!resolution.ok) return this.refuse(key, run, runError("invalid_input", resolution.reasons.join("; ")));
    // Said before the start it explains, once: a restart between the two still tells both.
    await events.record(run, { type: "Normal", reason: "WarmPodUnused", once: `unused/${pod.metadata?.name}`,
      message: `Warm pod ${pod.metadata?.name} ran nothing (${reason}); starting the run on a pod of its own` });
    this.slots.reserve(key, run, this.now());
    const started = await this.launch(key, run, choice.runtime, resolution.request, heardAt, pod);
    this.deps.warm.forget(key);
    return started;
  }

  /** Says which pod the run started on, once per pod: at the start, and again (to no effect if it
   * was) when this process sees a run's pod it has not told of, so a controller that died before
   * telling leaves no start untold. */
  private recordStart(key: string, run: ScriptRun, pod: V1Pod): Promise<void> {
    const name = pod.metadata?.name ?? "";
    this.told.set(key, name);
    const note = startedWarm(pod) ? { reason: "Claimed", message: `Claimed warm pod ${name}` } : { reason: "Created", message: `Created pod ${name}` };
    return this.deps.events.record(run, { type: "Normal", ...note, once: `start/${name}` });
  }

  /** Creates the pod, after the ConfigMap of a request too large to annotate; "foreign" when an
   * earlier run's objects hold the names. */
  private async createChildren(run: ScriptRun, request: RunnerRequest, runtime: Runtime): Promise<"created" | NameHolder> {
    const { kube, config } = this.deps;
    const namespace = run.metadata.namespace ?? "";
    const pod = buildPod(run, request, runtime, config);
    const configMap = usesConfigMap(pod) ? buildConfigMap(run, request) : undefined;
    if (configMap && await kube.createConfigMap(configMap) === "exists") {
      const existing = await kube.readConfigMap(namespace, configMap.metadata!.name!);
      if (!existing || ownerRunUid(existing) !== run.metadata.uid) return nameHolder("ConfigMap", existing ?? configMap, existing !== undefined);
    }
    if (await kube.createPod(pod) === "exists") {
      const existing = await kube.readPod(namespace, pod.metadata!.name!);
      if (!existing || ownerRunUid(existing) !== run.metadata.uid) return nameHolder("Pod", existing ?? pod, existing !== undefined);
    }
    return "created";
  }

  private async observe(key: string, run: ScriptRun, pod: V1Pod, heardAt = this.now()): Promise<ProcessResult> {
    const { config, kube } = this.deps;
    if (this.told.get(key) !== pod.metadata?.name) await this.recordStart(key, run, pod);
    if (startedWarm(pod)) {
      // Its deadline, set at the claim, bounds how long its runner can take to answer.
      const timeoutSeconds = pod.spec?.activeDeadlineSeconds ?? config.deadlineGraceSeconds;
      const running = pod.status?.containerStatuses?.some((c) => c.state?.running) === true;
      const answer = running ? this.deps.warm.answer(key, pod, timeoutSeconds) : undefined;
      if (answer?.kind === "envelope") {
        const answered = statusFromEnvelope(run, pod, answer.envelope, this.now(), config);
        if (answered.kind === "finished") return this.finish(key, run, answered.status, answered.outcome, { pod, heardAt });
      }
      if (answer?.kind === "unrun") return this.relaunch(key, run, pod, answer.reason, heardAt);
      // Claimed a moment ago (this look came with the claim's own pod event): Running can wait.
      const runningAfterMs = (claimedAt(pod) ?? 0) + WARM_RUNNING_AFTER_MS - this.now();
      if (running && answer === undefined && run.status?.podName === undefined && runningAfterMs > 0) return { requeueAfterMs: runningAfterMs };
    }
    let observation = statusFromPod(run, pod, undefined, this.now(), config);
    if (observation.kind === "unrun") return this.relaunch(key, run, pod, observation.reason, heardAt);
    if (observation.kind === "needsLog") observation = statusFromPod(run, pod, await this.runnerLog(pod), this.now(), config);
    if (observation.kind === "needsLog") throw new Error("The envelope was still missing after reading the log");
    if (observation.kind === "unrun") return this.relaunch(key, run, pod, observation.reason, heardAt);
    this.noteImage(observation.status);
    if (observation.kind === "finished") return this.finish(key, run, observation.status, observation.outcome, { pod, heardAt });
    const started = observation.status.phase === "Running" && run.status?.phase !== "Running";
    if (await this.statuses.write(key, run, observation.status) === "written" && started) this.observePodStarted(pod, observation.status.startedAt);
    return observation.recheckAfterMs !== undefined ? { requeueAfterMs: observation.recheckAfterMs } : {};
  }

  /** Tells the runtime's keeper whether its image started: a run that started did; one whose
   * pod failed on its image did not. */
  private noteImage(status: ScriptRunStatus): void {
    const { runtime, startedAt, error } = status;
    if (!runtime) return;
    if (startedAt !== undefined) this.deps.images.observedImage(runtime, true);
    else if (error?.type === "infrastructure_error" && error.message.includes(`image "${runtime.image}"`)) {
      this.deps.images.observedImage(runtime, false, error.message);
    }
  }

  /** A script that missed a module another runtime has is told which one. */
  private async withModuleHint(run: ScriptRun, status: ScriptRunStatus): Promise<ScriptRunStatus> {
    const { error, runtime } = status;
    const module = error?.type === "runtime_error" && runtime ? missingModule(error.message) : undefined;
    if (!error || !runtime || module === undefined) return status;
    const hint = await this.deps.runtimes.suggestFor(module, runtime.name, run.metadata.namespace ?? "");
    return hint ? { ...status, error: { ...error, suggestions: [...(error.suggestions ?? []), hint] } } : status;
  }

  /** Pod created → container running, from the pod's own timestamps (one-second resolution); a
   * warm pod's container started before its run, which is no start of the run's. */
  private observePodStarted(pod: V1Pod, startedAt: string | undefined): void {
    if (startedWarm(pod)) return;
    const startedMs = toMillis(startedAt);
    const createdMs = toMillis(pod.metadata?.creationTimestamp);
    if (startedMs !== undefined && createdMs !== undefined) observeStage(this.deps.metrics, "pod_started", (startedMs - createdMs) / 1000);
  }

  /** The run was admitted but its pod is not in the cache: a lagging cache, or a vanished pod. */
  private async podMissing(key: string, run: ScriptRun, reservedAt: number | undefined): Promise<ProcessResult> {
    const { kube, config } = this.deps;
    const { namespace = "", name = "" } = run.metadata;
    const since = reservedAt ?? toMillis(conditionOf(run, "PodCreated")?.lastTransitionTime) ?? 0;
    const waitedMs = this.now() - since;
    if (waitedMs < config.podGoneGraceSeconds * 1000) return { requeueAfterMs: config.podGoneGraceSeconds * 1000 - waitedMs };
    // Ask the apiserver itself before declaring the pod lost: the run as it is now, and every pod
    // labelled for it (the caches may lag, or a relist may have set them back: a warm run's claimed
    // pod is found by its owner, not by the name of a pod made for the run).
    const fresh = await kube.readRun(namespace, name);
    if (!fresh || fresh.metadata.uid !== run.metadata.uid || fresh.metadata.deletionTimestamp) return this.gone(key);
    if (isFinished(fresh.status?.phase)) return this.afterFinish(key, fresh);
    const pods = (await kube.listRunPods(namespace, name)).filter((p) => ownerRunUid(p) === run.metadata.uid);
    const named = fresh.status?.podName ?? podNameFor(name);
    const pod = pods.find((p) => p.metadata?.name === named) ?? pods.find((p) => !p.metadata?.deletionTimestamp) ?? pods[0];
    if (pod) return this.observe(key, fresh, pod);
    const observation = statusFromPod(fresh, undefined, undefined, this.now(), config);
    if (observation.kind !== "finished") throw new Error("A vanished pod must end the run");
    return this.finish(key, fresh, observation.status, observation.outcome);
  }

  /** Fails the run as cancelled (timed from its start, if it started); afterFinish then deletes
   * its pod, which stops the script. A warm run started at its claim, which its status may not
   * show yet. */
  private async cancel(key: string, run: ScriptRun, pod: V1Pod | undefined): Promise<ProcessResult> {
    this.deps.log.info({ run: key, pod: run.status?.podName }, "Cancelling run on request");
    const startedMs = toMillis(run.status?.startedAt) ?? (pod && startedWarm(pod) ? claimedAt(pod) : undefined);
    const ran = startedMs !== undefined ? { startedAt: isoTime(startedMs), durationMs: Math.max(0, this.now() - startedMs) } : {};
    return this.refuse(key, run, runError("cancelled", `The run was cancelled (annotation ${CANCEL_ANNOTATION})`),
      { ...ran, ...(startedMs !== undefined && pod ? await this.printedSoFar(key, run, pod) : {}) });
  }

  /** What a script stopped by a cancel had printed, as its runner's log framed it live (the first
   * 256 KiB of each stream). None when the log cannot be read within CANCEL_LOG_WAIT_MS: a kubelet
   * away (the node a user cancels runs on may well be failing) must not hold the cancel, or a worker. */
  private async printedSoFar(key: string, run: ScriptRun, pod: V1Pod): Promise<Printed | undefined> {
    const read = this.deps.kube.readLog(run.metadata.namespace ?? "", pod.metadata?.name ?? "", RUNNER_CONTAINER, LIVE_LOG_BYTES);
    try {
      return printedIn(await within(read, CANCEL_LOG_WAIT_MS, "answer"));
    } catch (err) {
      read.catch(() => undefined);
      this.deps.log.warn({ run: key, pod: pod.metadata?.name, err: String(err) }, "Failed to read what a cancelled run printed");
      return undefined;
    }
  }

  /** Fails the run with `error` now; `ran` says since when it ran, if it did, and what it printed. */
  private refuse(key: string, run: ScriptRun, error: RunError,
    ran: Pick<RunOutcome, "startedAt" | "durationMs" | "stdout" | "stderr" | "stdoutTruncated" | "stderrTruncated"> = {}): Promise<ProcessResult> {
    const outcome: RunOutcome = { error, finishedAt: isoTime(this.now()), ...ran };
    return this.finish(key, run, finishedStatus(run, outcome, this.deps.config, this.now()), outcome);
  }

  /** `ran`: the pod whose outcome this is, and when the controller heard it had finished. */
  private async finish(key: string, run: ScriptRun, status: ScriptRunStatus, outcome: RunOutcome,
    ran?: { pod: V1Pod; heardAt: number }): Promise<ProcessResult> {
    const { metrics, log, events } = this.deps;
    status = await this.withModuleHint(run, status);
    let wrote: WriteResult;
    try {
      wrote = await this.statuses.write(key, run, status);
    } catch (err) {
      // The run had ended already, as this look's view did not show yet: its status stays as it is.
      if (statusCode(err) === 422 && String((err as Error).message).includes(FINAL_STATUS_MESSAGE)) {
        const stored = await this.deps.kube.readRun(run.metadata.namespace ?? "", run.metadata.name ?? "");
        if (stored && stored.metadata.uid === run.metadata.uid && isFinished(stored.status?.phase)) return this.afterFinish(key, stored);
        throw err;
      }
      if (!refusedAsStored(err)) throw err;
      // Retrying the same write would fail forever and hold the run's slot: end the run with
      // what surely fits, saying why its outcome is missing.
      const { podName, runtime, startedAt, finishedAt, durationMs, exitCode, sandbox } = outcome;
      const why = infrastructureError(`The apiserver refused to store the run's ${status.error?.type ?? "successful"} outcome: ` +
        `${String((err as Error).message).slice(0, 500)}`);
      status = finishedStatus(run, { error: why, podName, runtime, startedAt, finishedAt, durationMs, exitCode, sandbox }, this.deps.config, this.now());
      log.warn({ run: key, errorType: outcome.error?.type }, "Stored a smaller outcome after the apiserver refused the whole one");
      wrote = await this.statuses.write(key, run, status);
    }
    if (wrote === "gone") return this.gone(key);
    if (wrote === "unchanged") return this.afterFinish(key, { ...run, status });
    const error = status.error;
    metrics.runsFinished.inc({ outcome: error ? "failed" : "succeeded", error_type: error?.type ?? "" });
    if (outcome.durationMs !== undefined) observeStage(metrics, "execution", outcome.durationMs / 1000);
    if (ran) {
      // A short script's container often starts and ends between two looks: the run was never Running.
      if (run.status?.phase !== "Running") this.observePodStarted(ran.pod, outcome.startedAt);
      observeStage(metrics, "status_written", (this.now() - ran.heardAt) / 1000);
    }
    // Error messages may quote the user's code or data, so only the type is logged.
    log.info({ run: key, phase: status.phase, errorType: error?.type, durationMs: status.durationMs, pod: status.podName }, "Finished run");
    // The outcome is stored: its event and the pod's removal need not wait for each other.
    const [, after] = await Promise.all([
      events.record(run, error
        ? { type: "Warning", reason: reasonOf(error.type), message: error.message }
        : { type: "Normal", reason: "Succeeded", message: `The script finished in ${status.durationMs ?? 0} ms` }),
      this.afterFinish(key, { ...run, status }, true),
    ]);
    return after;
  }

  /** A finished run: remove its pod (unless kept for debugging), wake the queue, honour its TTL.
   * `justFinished`: the outcome was recorded just now, so its children exist even if the cache lags. */
  private async afterFinish(key: string, run: ScriptRun, justFinished = false): Promise<ProcessResult> {
    const { config, kube, log } = this.deps;
    const { namespace = "", name = "", uid = "" } = run.metadata;
    const hadSlot = this.slots.release(key);
    this.told.delete(key);
    const pod = this.cachedPod(run);
    const ours = pod !== undefined && pod !== "foreign";
    // The kubelet reports the runner's end a moment before it calls the pod Succeeded or Failed, which
    // it does once it has stopped all of the pod. A pod whose runner ended has done its work: it is
    // kept for debugging like a finished one, and left to end before it is deleted. Deleted then,
    // it goes at once and leaves nothing on the node; deleted before, it would go through a
    // graceful termination, a status write and a second DELETE of the kubelet's (and deleted at
    // once, with grace 0, it would be gone from the apiserver while its sandbox still ran).
    const ending = ours && !podFinished(pod) && runnerEnded(pod);
    const ended = ours && (podFinished(pod) || ending);
    const endsInMs = ending ? this.podEndWaitMs(pod) : 0;
    // A pod that never finished (stuck pending, lost node) is of no use for debugging: always remove it.
    const live = ours && !ended;
    // A pod already being deleted was removed at an earlier look: each of its events brings another.
    const removing = ours && pod.metadata?.deletionTimestamp !== undefined;
    const remove = !removing && endsInMs <= 0 && (ours || (justFinished && run.status?.podName !== undefined)) && (live || !config.keepPods);
    if (remove) {
      const podName = ours ? pod.metadata?.name ?? "" : run.status?.podName ?? podNameFor(name);
      await kube.deletePod(namespace, podName);
      // A pod the cache lacks may have had one.
      if (!ours || usesConfigMap(pod)) await kube.deleteConfigMap(namespace, configMapNameFor(name));
      this.deps.warm.forget(key);
      log.info({ run: key, pod: podName }, "Deleted runner pod");
    }
    // A pod that ends, or goes, may free the slot it held: its last events all come here.
    if (hadSlot || remove || removing || !ours || justFinished) this.slots.wake();
    // At the finish, and at the retries of a failure here: not at each later look at a finished
    // run, which keepPods makes many.
    if (justFinished || remove || this.strayChecks.has(key)) {
      try {
        await this.removeStrays(run, ours ? pod : undefined);
        this.strayChecks.delete(key);
      } catch (err) {
        this.strayChecks.add(key);
        throw err;
      }
    }
    const ttl = run.spec.ttlSecondsAfterFinished;
    const expiresInMs = ttl === undefined ? undefined : (toMillis(run.status?.finishedAt) ?? this.now()) + ttl * 1000 - this.now();
    if (expiresInMs !== undefined && expiresInMs <= 0) {
      await kube.deleteRun(namespace, name, uid);
      log.info({ run: key, ttlSeconds: ttl }, "Deleted run after its TTL");
      return {};
    }
    const next = Math.min(expiresInMs ?? Infinity, endsInMs > 0 ? endsInMs : Infinity);
    return next < Infinity ? { requeueAfterMs: next } : {};
  }

  /** The log of a runner whose envelope was cut from its termination message: live output's frames,
   * then the envelope last. A log the kubelet cannot give (its node went away, say) is asked for
   * again, with the queue's backoff, for LOG_WAIT_MS after the runner ended; then, or at once when
   * the apiserver has it no more (404), the run ends on what the termination message still says. */
  private async runnerLog(pod: V1Pod): Promise<string | { unreadable: string }> {
    const { kube, config } = this.deps;
    const { namespace = "", name = "" } = pod.metadata ?? {};
    try {
      return await kube.readLog(namespace, name, RUNNER_CONTAINER, config.maxLogBytes + LIVE_LOG_BYTES);
    } catch (err) {
      const endedMs = toMillis(runnerStatus(pod)?.state?.terminated?.finishedAt) ?? this.now();
      if (statusCode(err) !== 404 && this.now() - endedMs < LOG_WAIT_MS) throw err;
      return { unreadable: err instanceof ApiException ? statusMessage(err) : err instanceof Error ? err.message : String(err) };
    }
  }

  /** How much longer a pod whose runner ended is left for the kubelet to end it: its next status
   * comes within milliseconds; a node that went away sends none, and the pod is deleted after all. */
  private podEndWaitMs(pod: V1Pod): number {
    const endedMs = toMillis(runnerStatus(pod)?.state?.terminated?.finishedAt) ?? this.now();
    return endedMs + POD_END_WAIT_MS - this.now();
  }

  /** Counts the slots in use and the runs waiting, for their gauges. */
  countSlots(): void {
    this.slots.plan();
  }

  /** Every open run as the slots see it: with the status written here, and its pod's state. */
  private slotView(): SlotView[] {
    // One look through the pods for all runs: a look per run made each start cost runs × pods.
    const claimedBy = new Map<string, V1Pod>();
    for (const pod of this.deps.pods.list()) {
      const uid = ownerRunUid(pod);
      if (uid !== undefined && isClaimed(pod)) claimedBy.set(uid, pod);
    }
    return this.deps.open.list().map((cached) => {
      const key = keyOf(cached);
      const run = this.statuses.latest(key, cached);
      const pod = this.cachedPod(run, claimedBy);
      return { key, run, pod: pod === undefined || pod === "foreign" ? "none" : podFinished(pod) ? "done" : "live" };
    });
  }
}

// Runs on warm pods, as the controller does them: attach ahead to every ready pool pod and hold
// the stream, claim a ready pool pod (one optimistic write), send the request over its held
// stream (or a new attach) in the background, and keep the answer until the run's reconcile takes
// it. Only what this process did is kept here; a claimed pod that this process never attached to
// (claimed before a restart) is attached to with no request, which makes a runner still waiting
// exit without running (its run then starts again) and lets one that had its request answer as
// usual. A held stream that closes unsent (this process stopped, say) closes the runner's stdin:
// that pod exits without running and its pool replaces it.
import type { ObjectCache, V1Pod } from "@kubernetes/client-node";
import type { Logger } from "../core/log.js";
import type { RunnerRequest } from "../core/request.js";
import type { Runtime } from "../core/runtime.js";
import { keyOf } from "../core/runs.js";
import { toMillis } from "../core/time.js";
import type { ScriptRun } from "../crds/schema.js";
import type { Kube } from "./kube.js";
import { ownerRunUid } from "./names.js";
import { type Attacher, type AttachResult, type HeldAttach, attachAndSend } from "./warmAttach.js";
import { POOL_LABEL, claimPatch, claimedAt, podEnded, poolPodState, poolSizeIn, requestFrame, runnerStatus } from "./warmPool.js";

/** Tries of an attach that dropped before the runner answered (its pod still running). */
const ATTACH_TRIES = 3;
/** How long opening a held attach may take. */
const HOLD_TIMEOUT_MS = 30_000;

interface Attachment {
  pod: string;
  /** The pod as the claim left it, until the cache has it. */
  claimed?: V1Pod;
  inFlight: boolean;
  tries: number;
  result?: AttachResult;
}

export interface WarmRunDeps {
  kube: Pick<Kube, "patchPod">;
  pods: ObjectCache<V1Pod>;
  attacher: Attacher;
  /** The pool template a runtime's ready pods have now. */
  templateOf(runtime: Runtime): string;
  /** Told when a pod left a runtime's pool, so that it is refilled at once. */
  claimed(runtime: string, namespace: string, pod: string): void;
  /** `urgent`: ahead of runs not yet started (workqueue.ts). */
  enqueue(key: string, urgent?: boolean): void;
  log: Logger;
  graceSeconds: number;
  now?: () => number;
}

/** An attach to a pool pod, opening or open; `dropped` once the pod ended or went. */
interface Held {
  opening: Promise<HeldAttach | undefined>;
  attach?: HeldAttach;
  dropped?: boolean;
}

/** A pool pod waiting for a request, its runner's stdin not yet written by anyone. */
const waiting = (pod: V1Pod | undefined): pod is V1Pod => pod?.metadata?.labels?.[POOL_LABEL] !== undefined
  && !pod.metadata.deletionTimestamp && pod.status?.phase === "Running"
  && pod.status.containerStatuses?.some((c) => c.state?.running) === true;

/** How a held attach is keyed: the pod's namespace and name. */
const heldId = (pod: V1Pod) => `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;

/** When the pod's runner container started (a pod not yet seen running sorts last). */
const runnerStartedMs = (pod: V1Pod) =>
  toMillis(runnerStatus(pod)?.state?.running?.startedAt) ?? Number.MAX_SAFE_INTEGER;

const NOT_LEADING = "This controller no longer leads: it claims no pod and sends no request";

export class WarmRuns {
  private readonly attachments = new Map<string, Attachment>();
  /** Attaches held open to pool pods, by namespace/name. */
  private readonly held = new Map<string, Held>();
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly deps: WarmRunDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Claims a ready pod of the runtime's pool in the run's namespace; undefined when none could be. */
  async claim(run: ScriptRun, runtime: Runtime, request: RunnerRequest): Promise<V1Pod | undefined> {
    // Not undefined, which would start the run cold: a process that no longer leads starts nothing.
    if (this.stopped) throw new Error(NOT_LEADING);
    const namespace = run.metadata.namespace ?? "";
    // No pool here: no look through the namespace's pods, which costs each cold run as many steps as pods are in flight.
    if (poolSizeIn(runtime, namespace) === 0) return undefined;
    const template = this.deps.templateOf(runtime);
    // Pods held open first, whose claim needs no attach; of those, the one whose runner started
    // first: a runner that started a moment ago may still be starting its sandbox, which the
    // request would wait for.
    const ready = this.deps.pods.list(namespace)
      .filter((pod) => pod.metadata?.labels?.[POOL_LABEL] === runtime.name && poolPodState(pod, template).ready && !this.spoiled(pod))
      .sort((a, b) => Number(this.isHeld(b)) - Number(this.isHeld(a)) || runnerStartedMs(a) - runnerStartedMs(b));
    for (const pod of ready) {
      const name = pod.metadata?.name ?? "";
      const claimed = await this.deps.kube.patchPod(namespace, name, claimPatch(pod, run, request, this.deps.graceSeconds, this.now()));
      // Another claim (or a change) came first: that pod is not this run's; try the next.
      if (claimed === "conflict" || claimed === "gone") continue;
      this.deps.claimed(runtime.name, namespace, name);
      return claimed;
    }
    return undefined;
  }

  /** Sends the run's request to its claimed pod; the key is queued again once the runner answers. */
  send(key: string, pod: V1Pod, request: RunnerRequest): void {
    // A process that stopped leading sends nothing: another replica may be starting the run too.
    // The pod it claimed runs nothing, and the leader finds it beside its own (reconcile.ts).
    if (this.stopped) throw new Error(NOT_LEADING);
    this.attach(key, pod, requestFrame(request), request.timeoutSeconds, 0, this.take(pod));
    this.attachments.get(key)!.claimed = pod;
  }

  /** A pod changed or went: attach ahead to one waiting in a pool; let go of one that ended or went. */
  podChanged(changed: V1Pod): void {
    const { namespace = "", name = "" } = changed.metadata ?? {};
    const id = heldId(changed);
    const pod = this.deps.pods.get(name, namespace);
    const held = this.held.get(id);
    if (!this.stopped && !held && waiting(pod)) return this.hold(id, namespace, name);
    if (held && (!pod || podEnded(pod))) this.drop(id, held);
  }

  /** The pod this process attached to for the run (the one it sent the request to, if it sent one). */
  attachedPod(key: string): string | undefined {
    return this.attachments.get(key)?.pod;
  }

  /** Lets go of every held attach, and sends and attaches no more (this process stops leading). */
  stop(): void {
    this.stopped = true;
    for (const [id, held] of this.held) this.drop(id, held);
  }

  /** The pod this process claimed for the run, as the claim returned it, for `withinMs` of the claim
   * while the cache may not show the claim yet (later, the cache's word on the pod is the one to go
   * by). A pod the cache saw go, or being deleted, is no longer the claim's: the run must notice
   * its pod went now, not at its next resync. Nor is the claim of an earlier run of the same name
   * (deleted and created again before any reconcile saw it go): its pod's owner tells them apart. */
  claimedPod(run: ScriptRun, withinMs: number): V1Pod | undefined {
    const claimed = this.attachments.get(keyOf(run))?.claimed;
    if (claimed && ownerRunUid(claimed) !== run.metadata.uid) return undefined;
    const at = claimed && claimedAt(claimed);
    if (at === undefined || this.now() - at > withinMs) return undefined;
    const cached = this.deps.pods.get(claimed!.metadata?.name ?? "", claimed!.metadata?.namespace);
    return cached && !cached.metadata?.deletionTimestamp ? claimed : undefined;
  }

  /**
   * What the pod answered, if this process attached to it; with no attachment yet (a pod claimed
   * before a restart), or one that dropped while tries remain, it attaches again with no request
   * and answers undefined for now.
   */
  answer(key: string, pod: V1Pod, timeoutSeconds: number): AttachResult | undefined {
    const name = pod.metadata?.name ?? "";
    const attachment = this.attachments.get(key);
    if (attachment?.pod === name && (attachment.inFlight || attachment.result?.kind !== "dropped")) return attachment.result;
    if (attachment?.pod === name && attachment.tries >= ATTACH_TRIES) return attachment.result;
    this.attach(key, pod, undefined, timeoutSeconds, attachment?.pod === name ? attachment.tries : 0);
    return undefined;
  }

  forget(key: string): void {
    this.attachments.delete(key);
  }

  private isHeld(pod: V1Pod): boolean {
    return this.held.get(heldId(pod))?.attach?.open === true;
  }

  /** Whether the pod's held attach closed unsent: its runner's stdin is closed, so it runs nothing. */
  private spoiled(pod: V1Pod): boolean {
    const attach = this.held.get(heldId(pod))?.attach;
    return attach !== undefined && !attach.open;
  }

  private hold(id: string, namespace: string, name: string): void {
    const held: Held = {
      opening: this.deps.attacher.open(namespace, name, HOLD_TIMEOUT_MS).then((attach) => {
        held.attach = attach;
        if (held.dropped) attach.close();
        return attach;
      }, (err: unknown) => {
        // The claim attaches anew; the pod's next change tries again.
        if (this.held.get(id) === held) this.held.delete(id);
        this.deps.log.warn({ pod: id, err: String(err) }, "Could not attach ahead to a warm pod");
        return undefined;
      }),
    };
    this.held.set(id, held);
  }

  private drop(id: string, held: Held): void {
    held.dropped = true;
    held.attach?.close();
    this.held.delete(id);
  }

  /** The attach held to the pod, open or still opening, now the claim's to send on: a claim that
   * came while it opened waits for it, for a second attach would have two writers on one stdin
   * (and the first to close it closes it for both). */
  private take(pod: V1Pod): Promise<HeldAttach | undefined> | undefined {
    const id = heldId(pod);
    const held = this.held.get(id);
    this.held.delete(id);
    return held?.opening;
  }

  private attach(key: string, pod: V1Pod, frame: string | undefined, timeoutSeconds: number, tries = 0,
    held?: Promise<HeldAttach | undefined>): void {
    if (this.stopped) return;
    const { namespace = "", name = "" } = pod.metadata ?? {};
    const attachment: Attachment = { pod: name, inFlight: true, tries: tries + 1, claimed: this.attachments.get(key)?.claimed };
    this.attachments.set(key, attachment);
    // The runner answers within its timeout; the grace covers its start and the stream.
    const timeoutMs = (timeoutSeconds + this.deps.graceSeconds) * 1000;
    const fresh = () => attachAndSend(this.deps.attacher, namespace, name, frame, timeoutMs);
    // A held attach that failed to open leaves the pod to a new one; one that closed unsent has
    // closed the runner's stdin, and a new attach hears it answer that it ran nothing.
    const attached = (held ? held.then((attach) => (attach?.open ? attach.send(frame, timeoutMs) : fresh())) : fresh())
      .catch((err: unknown): AttachResult => ({ kind: "dropped", reason: `the attach failed: ${String(err)}` }));
    void attached.then((result) => {
      if (this.attachments.get(key) !== attachment) return;
      attachment.inFlight = false;
      attachment.result = result;
      if (result.kind === "dropped") this.deps.log.warn({ run: key, pod: name, reason: result.reason }, "Lost the attach stream of a warm pod");
      this.deps.enqueue(key, true);
    });
  }
}

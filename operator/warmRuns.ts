// Runs on warm pods, as the controller does them: claim a ready pool pod (one optimistic write),
// send the request over an attach in the background, and keep the answer until the run's
// reconcile takes it. Only what this process did is kept here; a claimed pod that this process
// never attached to (claimed before a restart) is attached to with no request, which makes a
// runner still waiting exit without running (its run then starts again) and lets one that had
// its request answer as usual.
import type { ObjectCache, V1Pod } from "@kubernetes/client-node";
import type { Logger } from "../core/log.js";
import type { RunnerRequest } from "../core/request.js";
import type { Runtime } from "../core/runtime.js";
import type { ScriptRun } from "../crds/schema.js";
import type { Kube } from "./kube.js";
import type { Attacher, AttachResult } from "./warmAttach.js";
import { POOL_LABEL, claimPatch, claimedAt, poolPodState, requestFrame } from "./warmPool.js";

/** Tries of an attach that dropped before the runner answered (its pod still running). */
const ATTACH_TRIES = 3;

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
  claimed(runtime: string, namespace: string): void;
  enqueue(key: string): void;
  log: Logger;
  graceSeconds: number;
  now?: () => number;
}

export class WarmRuns {
  private readonly attachments = new Map<string, Attachment>();
  private readonly now: () => number;

  constructor(private readonly deps: WarmRunDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Claims a ready pod of the runtime's pool in the run's namespace; undefined when none could be. */
  async claim(run: ScriptRun, runtime: Runtime, request: RunnerRequest): Promise<V1Pod | undefined> {
    const namespace = run.metadata.namespace ?? "";
    const template = this.deps.templateOf(runtime);
    const ready = this.deps.pods.list(namespace)
      .filter((pod) => pod.metadata?.labels?.[POOL_LABEL] === runtime.name && poolPodState(pod, template).ready);
    for (const pod of ready) {
      const name = pod.metadata?.name ?? "";
      const claimed = await this.deps.kube.patchPod(namespace, name, claimPatch(pod, run, request, this.deps.graceSeconds, this.now()));
      // Another claim (or a change) came first: that pod is not this run's; try the next.
      if (claimed === "conflict" || claimed === "gone") continue;
      this.deps.claimed(runtime.name, namespace);
      return claimed;
    }
    return undefined;
  }

  /** Sends the run's request to its claimed pod; the key is queued again once the runner answers. */
  send(key: string, pod: V1Pod, request: RunnerRequest): void {
    this.attach(key, pod, requestFrame(request), request.timeoutSeconds);
    this.attachments.get(key)!.claimed = pod;
  }

  /** The pod this process claimed for the run, as the claim returned it, for `withinMs` of the claim
   * (the cache may lag that long; later, the cache's word on the pod is the one to go by). */
  claimedPod(key: string, withinMs: number): V1Pod | undefined {
    const claimed = this.attachments.get(key)?.claimed;
    const at = claimed && claimedAt(claimed);
    return at !== undefined && this.now() - at <= withinMs ? claimed : undefined;
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

  private attach(key: string, pod: V1Pod, frame: string | undefined, timeoutSeconds: number, tries = 0): void {
    const { namespace = "", name = "" } = pod.metadata ?? {};
    const attachment: Attachment = { pod: name, inFlight: true, tries: tries + 1, claimed: this.attachments.get(key)?.claimed };
    this.attachments.set(key, attachment);
    // The runner answers within its timeout; the grace covers its start and the stream.
    const timeoutMs = (timeoutSeconds + this.deps.graceSeconds) * 1000;
    const attached = this.deps.attacher.run(namespace, name, frame, timeoutMs)
      .catch((err: unknown): AttachResult => ({ kind: "dropped", reason: `the attach failed: ${String(err)}` }));
    void attached.then((result) => {
      if (this.attachments.get(key) !== attachment) return;
      attachment.inFlight = false;
      attachment.result = result;
      if (result.kind === "dropped") this.deps.log.warn({ run: key, pod: name, reason: result.reason }, "Lost the attach stream of a warm pod");
      this.deps.enqueue(key);
    });
  }
}

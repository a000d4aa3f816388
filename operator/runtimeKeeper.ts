// Keeps each ScriptRuntime's status true (runtimeStatus.ts): every change of any runtime queues all
// of them (one runtime's default annotation changes what the others' Default condition says), and
// so does news of a runtime's image from a run. Status goes through the /status subresource, only
// when it changed; a transition to a problem is also a Warning event, for kubectl describe srt.
import type { Logger } from "../core/log.js";
import type { RunRuntime } from "../crds/schema.js";
import type { ScriptRuntime, WarmPoolStatus } from "../crds/runtime.js";
import type { EventNote } from "./events.js";
import { mergePatch } from "./mergePatch.js";
import { type PullObservation, runtimeStatus, sameStatus } from "./runtimeStatus.js";
import { WorkQueue } from "./workqueue.js";

export interface RuntimeKeeperDeps {
  list(): ScriptRuntime[];
  get(name: string): ScriptRuntime | undefined;
  /** Applies a JSON merge patch to the runtime's status; false when the runtime is gone. */
  patchStatus(name: string, patch: Record<string, unknown>): Promise<boolean>;
  record(runtime: ScriptRuntime, note: EventNote): Promise<void>;
  /** The runtime's warm pools, as the pool keeper counts them. */
  pools(name: string): WarmPoolStatus[];
  log: Logger;
  now?: () => number;
}

export class RuntimeKeeper {
  /** By runtime, then by image: a late report on a former image must not hide the current one's. */
  private readonly pulls = new Map<string, Map<string, PullObservation>>();
  private readonly queue: WorkQueue;
  private readonly now: () => number;

  constructor(private readonly deps: RuntimeKeeperDeps) {
    this.now = deps.now ?? Date.now;
    this.queue = new WorkQueue({
      workers: 1,
      process: (name) => this.reconcile(name),
      onError: (name, err, retryInMs) => deps.log.warn({ runtime: name, err: String(err), retryInMs }, "Failed to update runtime status; retrying"),
    });
  }

  /** Any runtime changed: look at all of them again. */
  changed(): void {
    for (const runtime of this.deps.list()) this.queue.add(runtime.metadata.name ?? "");
  }

  /** One runtime's warm pools changed. */
  poolsChanged(name: string): void {
    this.queue.add(name);
  }

  /** A run's pod started from its runtime's image (`ok`), or could not (`message` says why). */
  observedImage(runtime: RunRuntime, ok: boolean, message = ""): void {
    const images = this.pulls.get(runtime.name) ?? new Map<string, PullObservation>();
    this.pulls.set(runtime.name, images);
    const before = images.get(runtime.image);
    if (before && before.ok === ok && before.message === message) return;
    images.set(runtime.image, { image: runtime.image, ok, message });
    this.queue.add(runtime.name);
  }

  private async reconcile(name: string): Promise<void> {
    const runtime = this.deps.get(name);
    if (!runtime) {
      this.pulls.delete(name);
      return;
    }
    const images = this.pulls.get(name);
    // Only the current image's news matters from now on.
    for (const image of images?.keys() ?? []) if (image !== runtime.spec.image) images!.delete(image);
    const status = runtimeStatus(runtime, this.deps.list(), images?.get(runtime.spec.image), this.now(), this.deps.pools(name));
    if (sameStatus(runtime.status, status)) return;
    // A merge patch keeps what it does not name: what the status no longer says (a warm pool removed)
    // goes as null.
    if (!(await this.deps.patchStatus(name, mergePatch(runtime.status ?? {}, status) as Record<string, unknown>))) return;
    for (const condition of status.conditions ?? []) {
      const before = runtime.status?.conditions?.find((c) => c.type === condition.type);
      if (condition.status === "False" && before?.status !== "False") {
        await this.deps.record(runtime, { type: "Warning", reason: condition.reason, message: condition.message ?? condition.reason });
      }
    }
  }

  shutdown(): Promise<void> {
    return this.queue.shutdown();
  }
}

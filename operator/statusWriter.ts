// Writes a ScriptRun's status through the /status subresource, only when it changed, and remembers
// the statuses it wrote until the informer cache shows them: a reconcile that reads a stale cache in
// between must not undo an outcome (and run the script again), nor write a status it already wrote
// (a pod's event often comes before the run's own last write is back in the cache).
import type { ScriptRun, ScriptRunStatus } from "../crds/schema.js";
import { isFinished } from "../crds/schema.js";
import type { Kube } from "./kube.js";
import { carriesNullMember, mergePatch } from "./mergePatch.js";

export type WriteResult = "written" | "unchanged" | "gone";

export class StatusWriter {
  /** Statuses written but not yet seen in the cache, by run key. */
  private readonly written = new Map<string, { uid: string; status: ScriptRunStatus }>();

  constructor(private readonly kube: Pick<Kube, "patchRunStatus">) {}

  /** The run as reconcile should see it: the cached object, with the status written here when the
   * cache does not show it yet. */
  latest(key: string, cached: ScriptRun): ScriptRun {
    const memo = this.written.get(key);
    if (!memo) return cached;
    if (memo.uid !== cached.metadata.uid || isFinished(cached.status?.phase) || mergePatch(cached.status ?? {}, memo.status) === undefined) {
      this.written.delete(key);
      return cached;
    }
    return { ...cached, status: memo.status };
  }

  /** The run is gone: nothing of it is worth remembering. */
  forget(key: string): void {
    this.written.delete(key);
  }

  /** Makes the run's status `desired`, sending only what changed. */
  async write(key: string, run: ScriptRun, desired: ScriptRunStatus): Promise<WriteResult> {
    const patch = mergePatch(run.status ?? {}, desired);
    if (patch === undefined) return "unchanged";
    const { namespace = "", name = "", uid = "" } = run.metadata;
    // A result with null members cannot travel in a merge patch (null means "delete"): replace status whole.
    const ok = await this.kube.patchRunStatus(namespace, name, carriesNullMember(desired.result)
      ? { type: "replace", status: desired }
      : { type: "merge", status: patch as Record<string, unknown> });
    if (!ok) return "gone";
    this.written.set(key, { uid, status: desired });
    return "written";
  }
}

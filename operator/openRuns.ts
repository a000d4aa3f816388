// The runs that can hold or wait for a concurrency slot: the unfinished ones, and the finished ones
// whose pod the cache still has. Kept from the informers' events, so that admission and the resync
// look at these and not at every run the cache holds: a namespace may keep thousands of finished
// runs, and a look at each of them per start made a run's cost grow with the runs before it. It
// also counts them, so that while they all fit the caps no decision needs to look at each one.
import type { ObjectCache, V1Pod } from "@kubernetes/client-node";
import { keyOf, parseKey } from "../core/runs.js";
import { type ScriptRun, isFinished } from "../crds/schema.js";
import { ownerRunKey } from "./names.js";

export class OpenRuns {
  /** The unfinished runs' keys, and whether each is Queued. */
  private readonly unfinished = new Map<string, boolean>();
  private readonly perNamespace = new Map<string, number>();
  private queued = 0;

  constructor(private readonly runs: Pick<ObjectCache<ScriptRun>, "get">, private readonly pods: Pick<ObjectCache<V1Pod>, "list">) {}

  changed(run: ScriptRun): void {
    if (isFinished(run.status?.phase)) this.forget(run);
    else this.hold(run, run.status?.phase === "Queued");
  }

  /** A run left the cache; a new run of the same name may already have taken its place. */
  deleted(run: ScriptRun): void {
    if (!this.runs.get(run.metadata.name ?? "", run.metadata.namespace)) this.forget(run);
  }

  keys(): Set<string> {
    const keys = new Set(this.unfinished.keys());
    for (const pod of this.pods.list()) {
      const key = ownerRunKey(pod);
      if (key !== undefined) keys.add(key);
    }
    return keys;
  }

  /** The open runs as the cache has them. */
  list(): readonly ScriptRun[] {
    const open: ScriptRun[] = [];
    for (const key of this.keys()) {
      const { namespace, name } = parseKey(key);
      const run = this.runs.get(name, namespace);
      if (run) open.push(run);
    }
    return open;
  }

  /** Whether the cache shows a run waiting Queued for a slot. */
  anyQueued(): boolean {
    return this.queued > 0;
  }

  /** At most how many runs hold or wait for a slot, in all and in `namespace`: the unfinished ones
   * and those with a pod (a finished run's pod may still be running). */
  atMost(namespace: string): { total: number; inNamespace: number } {
    const pods = this.pods.list().length;
    return { total: this.unfinished.size + pods, inNamespace: (this.perNamespace.get(namespace) ?? 0) + pods };
  }

  private hold(run: ScriptRun, queued: boolean): void {
    const key = keyOf(run);
    const was = this.unfinished.get(key);
    if (was === undefined) this.count(run, 1);
    this.queued += Number(queued) - Number(was === true);
    this.unfinished.set(key, queued);
  }

  private forget(run: ScriptRun): void {
    const key = keyOf(run);
    const was = this.unfinished.get(key);
    if (was === undefined) return;
    this.count(run, -1);
    this.queued -= Number(was);
    this.unfinished.delete(key);
  }

  private count(run: ScriptRun, by: number): void {
    const namespace = run.metadata.namespace ?? "";
    const count = (this.perNamespace.get(namespace) ?? 0) + by;
    if (count === 0) this.perNamespace.delete(namespace);
    else this.perNamespace.set(namespace, count);
  }
}

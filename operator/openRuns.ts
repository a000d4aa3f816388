// The runs that can hold or wait for a concurrency slot: the unfinished ones, and the finished ones
// whose pod the cache still has. Kept from the informers' events, so that admission and the resync
// look at these and not at every run the cache holds: a namespace may keep thousands of finished
// runs, and a look at each of them per start made a run's cost grow with the runs before it.
import type { ObjectCache, V1Pod } from "@kubernetes/client-node";
import { keyOf, parseKey } from "../core/runs.js";
import { type ScriptRun, isFinished } from "../crds/schema.js";
import { ownerRunKey } from "./names.js";

export class OpenRuns {
  private readonly unfinished = new Set<string>();

  constructor(private readonly runs: Pick<ObjectCache<ScriptRun>, "get">, private readonly pods: Pick<ObjectCache<V1Pod>, "list">) {}

  changed(run: ScriptRun): void {
    if (isFinished(run.status?.phase)) this.unfinished.delete(keyOf(run));
    else this.unfinished.add(keyOf(run));
  }

  /** A run left the cache; a new run of the same name may already have taken its place. */
  deleted(run: ScriptRun): void {
    if (!this.runs.get(run.metadata.name ?? "", run.metadata.namespace)) this.unfinished.delete(keyOf(run));
  }

  keys(): Set<string> {
    const keys = new Set(this.unfinished);
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
}

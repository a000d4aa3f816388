// The API's one watch of ScriptRuns in every namespace, feeding the waiter: a self-restarting
// informer cache (operator/watchedCache.ts) that is re-listed from scratch on a timer, as a guard
// against a watch that stopped silently. Each (re)list tells the listener to re-check what it
// waits for.
import type { KubeConfig, KubernetesListObject, KubernetesObject } from "@kubernetes/client-node";
import { runsPath } from "../core/kube.js";
import type { Logger } from "../core/log.js";
import { WatchedCache } from "../core/watchedCache.js";
import type { ScriptRun } from "../crds/schema.js";
import type { RunListener, RunWatch } from "./runWatch.js";

export interface RunInformerOptions {
  relistMs: number;
  log: Logger;
  /** Lists every ScriptRun (the informer's initial list and re-lists), each through `reuse`
   * (core/watchedCache.ts Source.list). */
  list: (reuse: (obj: KubernetesObject) => KubernetesObject) => Promise<unknown>;
  /** Reads one ScriptRun; undefined when it is gone. */
  read: (namespace: string, name: string) => Promise<ScriptRun | undefined>;
}

export class RunInformer implements RunWatch {
  private readonly cache: WatchedCache<KubernetesObject>;
  private relistTimer: NodeJS.Timeout | undefined;

  constructor(kc: KubeConfig, listener: RunListener, private readonly options: RunInformerOptions) {
    // Typed as client-node's objects; what they carry are ScriptRuns (timestamps arrive as strings).
    const asRun = (obj: KubernetesObject) => obj as unknown as ScriptRun;
    this.cache = new WatchedCache<KubernetesObject>(kc, {
      what: "scriptruns",
      path: runsPath(),
      list: options.list as (reuse: (obj: KubernetesObject) => KubernetesObject) => Promise<KubernetesListObject<KubernetesObject>>,
      read: async (name, namespace) => (await options.read(namespace ?? "", name)) as KubernetesObject | undefined,
    }, {
      changed: (obj) => listener.changed(asRun(obj)),
      deleted: (obj) => listener.deleted(asRun(obj)),
      resynced: () => listener.resynced(),
    }, options.log);
  }

  get synced(): boolean {
    return this.cache.synced;
  }

  start(): void {
    void this.cache.start();
    this.relistTimer = setInterval(() => void this.cache.relist(), this.options.relistMs);
    this.relistTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.relistTimer);
    await this.cache.stop();
  }
}

// Informer caches of ScriptRuns and of the runner pods (label-selected), for all namespaces or
// each watched one. Handlers only enqueue keys. client-node informers can stop silently, so each
// cache restarts its informer on `error` with a capped backoff (one restart pending at a time)
// and can re-list from scratch with a fresh informer, which the controller does on a timer.
import {
  ADD, CoreV1Api, CustomObjectsApi, DELETE, ERROR, type Informer, type KubeConfig, type KubernetesListObject,
  type KubernetesObject, type ObjectCache, UPDATE, type V1Pod, makeInformer,
} from "@kubernetes/client-node";
import { GROUP, PLURAL, type ScriptRun, VERSION } from "../crds/schema.js";
import type { Logger } from "./log.js";
import { MANAGED_SELECTOR, keyOf, ownerRunKey } from "./names.js";

const MAX_BACKOFF_MS = 30_000;

interface Source<T extends KubernetesObject> {
  what: string;
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  labelSelector?: string;
}

/** One informer's cache that keeps itself alive. */
class WatchedCache<T extends KubernetesObject> implements ObjectCache<T> {
  private informer: Informer<T> & ObjectCache<T>;
  private restartTimer: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  private stopped = false;
  private markSynced!: () => void;
  private readonly synced = new Promise<void>((resolve) => {
    this.markSynced = resolve;
  });

  constructor(private readonly kc: KubeConfig, private readonly source: Source<T>,
    private readonly onChange: (obj: T) => void, private readonly log: Logger) {
    this.informer = this.make();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.informer.list(namespace);
  }

  /** Resolves once the cache holds a full list (retrying as long as it takes), or on stop. */
  async start(): Promise<void> {
    void this.run(this.informer);
    await this.synced;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    this.markSynced();
    await this.informer.stop();
  }

  /** Lists afresh with a new informer and swaps it in. Its adds enqueue every object; objects only
   * the old one knew are reported too, in case their deletion was missed. */
  async relist(): Promise<void> {
    if (this.stopped) return;
    const next = this.make();
    if (!(await this.run(next)) || this.stopped) {
      await next.stop();
      return;
    }
    const old = this.informer;
    this.informer = next;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await old.stop();
    for (const obj of old.list()) if (!next.get(obj.metadata?.name ?? "", obj.metadata?.namespace)) this.onChange(obj);
  }

  private make(): Informer<T> & ObjectCache<T> {
    const { path, list, labelSelector } = this.source;
    const informer = makeInformer(this.kc, path, list, labelSelector);
    for (const verb of [ADD, UPDATE, DELETE] as const) informer.on(verb, (obj) => this.onChange(obj));
    informer.on(ERROR, (err) => {
      if (informer === this.informer) this.scheduleRestart(err);
    });
    return informer;
  }

  /** Starts an informer; true when it listed and began watching without an error. */
  private async run(informer: Informer<T> & ObjectCache<T>): Promise<boolean> {
    let failed = false;
    const onError = () => {
      failed = true;
    };
    informer.on(ERROR, onError);
    try {
      await informer.start();
    } catch (err) {
      failed = true;
      if (informer === this.informer) this.scheduleRestart(err);
    } finally {
      informer.off(ERROR, onError);
    }
    if (!failed) {
      this.backoffMs = 0;
      this.markSynced();
    }
    return !failed;
  }

  private scheduleRestart(err: unknown): void {
    if (this.stopped || this.restartTimer) return;
    this.backoffMs = Math.min(Math.max(1000, this.backoffMs * 2), MAX_BACKOFF_MS);
    this.log.warn({ informer: this.source.what, err: String(err), retryInMs: this.backoffMs }, "Watch failed; restarting it");
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.run(this.informer);
    }, this.backoffMs);
  }
}

/** Several namespaces' caches read as one. */
class Caches<T extends KubernetesObject> implements ObjectCache<T> {
  constructor(private readonly byNamespace: Map<string | undefined, WatchedCache<T>>) {}

  get(name: string, namespace?: string): T | undefined {
    return (this.byNamespace.get(undefined) ?? this.byNamespace.get(namespace))?.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return [...this.byNamespace.values()].flatMap((cache) => cache.list(namespace));
  }

  get all(): WatchedCache<T>[] {
    return [...this.byNamespace.values()];
  }
}

export interface Watches {
  runs: ObjectCache<ScriptRun>;
  pods: ObjectCache<V1Pod>;
  /** Resolves once every cache holds its first full list. */
  start(): Promise<void>;
  stop(): Promise<void>;
  relist(): Promise<void>;
}

/** Watches ScriptRuns and runner pods in `namespaces` (empty: all); every change enqueues the run's key. */
export function watch(kc: KubeConfig, namespaces: string[], enqueue: (key: string) => void, log: Logger): Watches {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const scopes: Array<string | undefined> = namespaces.length > 0 ? namespaces : [undefined];
  const runs = new Caches<KubernetesObject>(new Map(scopes.map((ns) => [ns, new WatchedCache<KubernetesObject>(kc, {
    what: `scriptruns${ns ? ` in ${ns}` : ""}`,
    path: `/apis/${GROUP}/${VERSION}${ns ? `/namespaces/${ns}` : ""}/${PLURAL}`,
    list: () => ns
      ? custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: PLURAL })
      : custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL }),
  }, (run) => enqueue(keyOf(run)), log)])));
  const pods = new Caches<V1Pod>(new Map(scopes.map((ns) => [ns, new WatchedCache<V1Pod>(kc, {
    what: `runner pods${ns ? ` in ${ns}` : ""}`,
    path: ns ? `/api/v1/namespaces/${ns}/pods` : "/api/v1/pods",
    labelSelector: MANAGED_SELECTOR,
    list: () => ns
      ? core.listNamespacedPod({ namespace: ns, labelSelector: MANAGED_SELECTOR })
      : core.listPodForAllNamespaces({ labelSelector: MANAGED_SELECTOR }),
  }, (pod) => {
    const key = ownerRunKey(pod);
    if (key) enqueue(key);
  }, log)])));
  const every = [...runs.all, ...pods.all] as Array<WatchedCache<KubernetesObject>>;
  return {
    // The informers deliver ScriptRun objects; the cache is typed by what they list.
    runs: runs as unknown as ObjectCache<ScriptRun>,
    pods,
    start: async () => {
      await Promise.all(every.map((cache) => cache.start()));
    },
    stop: async () => {
      await Promise.all(every.map((cache) => cache.stop()));
    },
    relist: async () => {
      await Promise.all(every.map((cache) => cache.relist()));
    },
  };
}

// Informer caches of ScriptRuns and of the runner pods (label-selected), for all namespaces or
// each watched one. Handlers only enqueue keys. Each cache keeps itself alive (watchedCache.ts);
// the controller re-lists them from scratch on a timer.
import {
  CoreV1Api, CustomObjectsApi, type KubeConfig, type KubernetesObject, type ObjectCache, type V1Pod,
} from "@kubernetes/client-node";
import { RUNS, listInPages, runsPath, unless, within } from "../core/kube.js";
import type { Logger } from "../core/log.js";
import { keyOf } from "../core/runs.js";
import { type CacheListener, WatchedCache } from "../core/watchedCache.js";
import { type ScriptRun, isFinished } from "../crds/schema.js";
import { MANAGED_SELECTOR, ownerRunKey } from "./names.js";
import { OpenRuns } from "./openRuns.js";

// A relist reads again what its list lacked; one read that hangs must not hold up the relist.
const READ_TIMEOUT_MS = 10_000;

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
  /** The runs that can hold or wait for a slot (openRuns.ts). */
  open: OpenRuns;
  /** Resolves once every cache holds its first full list. */
  start(): Promise<void>;
  stop(): Promise<void>;
  relist(): Promise<void>;
}

/** What the controller keeps of a finished run: what its reconciles read (its TTL, and its pod's
 * name and start for the pod's removal). Its outcome is the apiserver's to keep: a run's result,
 * stdout and stderr may each be as large as the output cap allows, for as long as the run exists
 * (make scale's 10 000 hello-world runs, whose outcomes are small, peaked 4 MiB lower without
 * them). In place, as the informer caches this very object. */
export function slimFinished<T extends object>(obj: T): T {
  const run = obj as unknown as ScriptRun;
  if (!isFinished(run.status?.phase)) return obj;
  const { phase, podName, start, finishedAt } = run.status ?? {};
  run.status = { phase, podName, start, finishedAt };
  run.spec = { ttlSecondsAfterFinished: run.spec.ttlSecondsAfterFinished } as ScriptRun["spec"];
  return obj;
}

/** A listener that treats a change and a deletion alike. */
function both<T>(onChange: (obj: T) => void): CacheListener<T> {
  return { changed: onChange, deleted: onChange };
}

/** Keeps the open runs' index, then enqueues the run. */
function runListener(open: () => OpenRuns, enqueue: (key: string) => void): CacheListener<KubernetesObject> {
  return {
    changed: (run) => {
      open().changed(run as ScriptRun);
      enqueue(keyOf(run));
    },
    deleted: (run) => {
      open().deleted(run as ScriptRun);
      enqueue(keyOf(run));
    },
  };
}

/** Watches ScriptRuns and runner pods in `namespaces` (empty: all); every change enqueues the run's
 * key (a pod's urgently: its run is under way), and every pod change also goes to `onPodChange`
 * (the warm pools keep count of theirs). */
export function watch(kc: KubeConfig, namespaces: string[], enqueue: (key: string, urgent?: boolean) => void, log: Logger,
  onPodChange: (pod: V1Pod) => void = () => {}): Watches {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const scopes: Array<string | undefined> = namespaces.length > 0 ? namespaces : [undefined];
  const runs = new Caches<KubernetesObject>(new Map(scopes.map((ns) => [ns, new WatchedCache<KubernetesObject>(kc, {
    what: `scriptruns${ns ? ` in ${ns}` : ""}`,
    path: runsPath(ns),
    list: (reuse) => listInPages((page) => ns
      ? custom.listNamespacedCustomObject({ ...RUNS, namespace: ns, ...page })
      : custom.listClusterCustomObject({ ...RUNS, ...page }), reuse),
    read: (name, namespace = "") => unless([404], custom.getNamespacedCustomObject({ ...RUNS, namespace, name }, within(READ_TIMEOUT_MS)), undefined),
    trim: slimFinished,
  }, runListener(() => open, enqueue), log)])));
  const pods = new Caches<V1Pod>(new Map(scopes.map((ns) => [ns, new WatchedCache<V1Pod>(kc, {
    what: `runner pods${ns ? ` in ${ns}` : ""}`,
    path: ns ? `/api/v1/namespaces/${ns}/pods` : "/api/v1/pods",
    labelSelector: MANAGED_SELECTOR,
    list: async (reuse) => {
      const list = await (ns
        ? core.listNamespacedPod({ namespace: ns, labelSelector: MANAGED_SELECTOR })
        : core.listPodForAllNamespaces({ labelSelector: MANAGED_SELECTOR }));
      return { ...list, items: list.items.map(reuse) };
    },
    read: (name, namespace = "") => unless([404], core.readNamespacedPod({ name, namespace }, within(READ_TIMEOUT_MS)), undefined),
  }, both((pod) => {
    const key = ownerRunKey(pod);
    if (key) enqueue(key, true);
    onPodChange(pod);
  }), log)])));
  const open: OpenRuns = new OpenRuns(runs as unknown as ObjectCache<ScriptRun>, pods);
  const every = [...runs.all, ...pods.all] as Array<WatchedCache<KubernetesObject>>;
  return {
    // The informers deliver ScriptRun objects; the cache is typed by what they list.
    runs: runs as unknown as ObjectCache<ScriptRun>,
    pods,
    open,
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

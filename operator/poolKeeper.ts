// Keeps each runtime's warm pools full: for every namespace a runtime's warmPool lists, warmPool.size
// ready pods, replaced at once when claimed, ended, evicted or outdated (built from an earlier
// spec of the runtime), scaled when the size changes, removed when the runtime or the namespace
// leaves. A work queue of runtime|namespace keys, fed by runtime changes, pool pod events and
// claims. The cache lags behind what this process just did, so pods it created (or deleted) count
// as such until the cache shows them, as controller-runtime's expectations do: no pool is
// overfilled by a reconcile that ran before its own pods were seen.
import type { ObjectCache, V1Pod } from "@kubernetes/client-node";
import type { Logger } from "../core/log.js";
import { type Runtime, parseRuntime } from "../core/runtime.js";
import type { ScriptRuntime } from "../crds/runtime.js";
import type { Kube } from "./kube.js";
import type { Metrics } from "./metrics.js";
import { type PodSettings, RUNTIME_ANNOTATION } from "./podSpec.js";
import { POOL_LABEL, TEMPLATE_LABEL, claimedAt, podEnded, poolPod, poolPodState, poolSizeIn, startedWarm } from "./warmPool.js";
import { type ProcessResult, WorkQueue } from "./workqueue.js";

/** How long after a claim its pool is refilled at the latest. */
const REFILL_AFTER_MS = 250;
/** How long a pod this process created (or deleted) may be missing from (or still in) the cache. */
const EXPECTATION_MS = 30_000;

export interface PoolCount {
  namespace: string;
  ready: number;
  desired: number;
}

export interface PoolKeeperDeps {
  runtimes: { list(): ScriptRuntime[]; get(name: string): ScriptRuntime | undefined };
  pods: ObjectCache<V1Pod>;
  kube: Pick<Kube, "createPod" | "deletePod">;
  settings: PodSettings;
  /** Empty: every namespace. Pools elsewhere are not kept (their pods would not be seen). */
  watchNamespaces: string[];
  metrics: Pick<Metrics, "warmPodsReady">;
  log: Logger;
  /** Told when the counts of a runtime's pools changed (its status shows them). */
  counted(runtime: string): void;
  now?: () => number;
}

const keyOf = (runtime: string, namespace: string) => `${runtime}|${namespace}`;

export class PoolKeeper {
  private readonly queue: WorkQueue;
  private readonly counts = new Map<string, PoolCount>();
  /** Pods created (name → when) not yet in the cache, and deleted ones still in it, by key. */
  private readonly creating = new Map<string, Map<string, number>>();
  private readonly deleting = new Map<string, Map<string, number>>();
  private readonly templates = new WeakMap<Runtime, string>();
  /** Pods claimed from each pool less than REFILL_AFTER_MS ago whose run still has them, by key. */
  private readonly fresh = new Map<string, Map<string, number>>();
  private readonly now: () => number;

  constructor(private readonly deps: PoolKeeperDeps) {
    this.now = deps.now ?? Date.now;
    this.queue = new WorkQueue({
      workers: 2,
      // Before the runtimes are listed every pool would look unwanted, its pods deleted.
      paused: true,
      process: (key) => this.reconcile(key),
      onError: (key, err, retryInMs) => deps.log.warn({ pool: key, err: String(err), retryInMs }, "Failed to keep a warm pool; retrying"),
    });
  }

  /** Starts keeping the pools, once the caches of runtimes and pods are filled. */
  start(): void {
    this.queue.start();
  }

  /** The label every current pool pod of the runtime carries; worked out once per parsed runtime
   * (parseRuntime answers the same object until the runtime changes), where every claim built a pod. */
  templateOf(runtime: Runtime): string {
    let template = this.templates.get(runtime);
    if (template === undefined) {
      template = poolPod(runtime, "", "", this.deps.settings).metadata?.labels?.[TEMPLATE_LABEL] ?? "";
      this.templates.set(runtime, template);
    }
    return template;
  }

  /** Some runtime changed (or it is time to look again anyway): every pool that is, or should be. */
  runtimesChanged(): void {
    for (const runtime of this.deps.runtimes.list()) {
      for (const namespace of runtime.spec.warmPool?.namespaces ?? []) this.queue.add(keyOf(runtime.metadata.name ?? "", namespace));
    }
    for (const key of this.counts.keys()) this.queue.add(key);
  }

  /** A pod changed: a pool's, or one a run claimed from a pool (which the pool no longer has). */
  podChanged(pod: V1Pod): void {
    const runtime = pod.metadata?.labels?.[POOL_LABEL] ?? (startedWarm(pod) ? pod.metadata?.annotations?.[RUNTIME_ANNOTATION] : undefined);
    const { namespace, name = "" } = pod.metadata ?? {};
    if (runtime === undefined || !namespace) return;
    const key = keyOf(runtime, namespace);
    const at = claimedAt(pod);
    // The run is done with the pod it claimed: its replacement need not wait any longer. The
    // claim's own event may come before the claimer says so.
    if (podEnded(pod)) this.fresh.get(key)?.delete(name);
    else if (at !== undefined && pod.metadata?.labels?.[POOL_LABEL] === undefined) this.markFresh(key, name, at);
    this.queue.add(key);
  }

  /** A run claimed `pod` of a pool: it is replaced once that run is done with it, or REFILL_AFTER_MS
   * after the claim, whichever comes first, so that the new pod's start (a few hundred ms of CPU
   * for the kubelet, containerd and the runner) does not compete with the run it replaces. */
  claimed(runtime: string, namespace: string, pod: string): void {
    const key = keyOf(runtime, namespace);
    this.markFresh(key, pod, this.now());
    this.queue.add(key);
  }

  private markFresh(key: string, pod: string, claimedAtMs: number): void {
    this.fresh.set(key, (this.fresh.get(key) ?? new Map<string, number>()).set(pod, claimedAtMs));
  }

  /** Ready and desired pods of each of the runtime's pools. */
  poolsOf(runtime: string): PoolCount[] {
    return [...this.counts.entries()].filter(([key]) => key.startsWith(`${runtime}|`)).map(([, count]) => count)
      .sort((a, b) => a.namespace.localeCompare(b.namespace));
  }

  shutdown(): Promise<void> {
    return this.queue.shutdown();
  }

  private desired(name: string, namespace: string): { runtime?: Runtime; uid: string; size: number } {
    const object = this.deps.runtimes.get(name);
    const parsed = object ? parseRuntime(object) : undefined;
    if (!object || !parsed?.ok) return { uid: "", size: 0 };
    const watched = this.deps.watchNamespaces.length === 0 || this.deps.watchNamespaces.includes(namespace);
    return { runtime: parsed.runtime, uid: object.metadata.uid ?? "", size: watched ? poolSizeIn(parsed.runtime, namespace) : 0 };
  }

  private async reconcile(key: string): Promise<ProcessResult> {
    const [name = "", namespace = ""] = key.split("|");
    const { runtime, uid, size } = this.desired(name, namespace);
    const template = runtime ? this.templateOf(runtime) : "";
    const cached = this.deps.pods.list(namespace).filter((pod) => pod.metadata?.labels?.[POOL_LABEL] === name);
    const creating = this.expected(this.creating, key, (pod) => cached.some((p) => p.metadata?.name === pod));
    const deleting = this.expected(this.deleting, key, (pod) => !cached.some((p) => p.metadata?.name === pod));
    const states = cached.filter((pod) => !deleting.has(pod.metadata?.name ?? "")).map((pod) => poolPodState(pod, template));
    const doomed = states.filter((s) => (s.stale || !runtime) && !s.pod.metadata?.deletionTimestamp);
    const live = states.filter((s) => !doomed.includes(s) && !s.pod.metadata?.deletionTimestamp);
    // Past the size, the ones not yet ready go first.
    const extra = [...live].sort((a, b) => Number(a.ready) - Number(b.ready)).slice(0, Math.max(0, live.length + creating.size - size));
    for (const { name: pod, pod: seen } of [...doomed, ...extra]) {
      // Only as seen: a pod a run claimed since is the run's now.
      await this.deps.kube.deletePod(namespace, pod, seen.metadata?.resourceVersion);
      deleting.set(pod, this.now());
    }
    const fresh = this.expected(this.fresh, key, () => false, REFILL_AFTER_MS);
    for (let i = live.length - extra.length + creating.size + fresh.size; runtime && i < size; i++) {
      const created = await this.deps.kube.createPod(poolPod(runtime, namespace, uid, this.deps.settings));
      if (created !== "exists") creating.set(created.metadata?.name ?? "", this.now());
    }
    const ready = live.filter((s) => s.ready && !extra.includes(s)).length;
    this.record(key, name, { namespace, ready, desired: size });
    const due = Math.min(...[...fresh.values()].map((at) => at + REFILL_AFTER_MS - this.now()));
    return fresh.size > 0 ? { requeueAfterMs: Math.max(1, due) } : {};
  }

  /** The expected pods of a key still unmet by the cache (and not too old to wait for). */
  private expected(table: Map<string, Map<string, number>>, key: string, met: (pod: string) => boolean,
    withinMs = EXPECTATION_MS): Map<string, number> {
    const pods = table.get(key) ?? new Map<string, number>();
    table.set(key, pods);
    for (const [pod, at] of pods) if (met(pod) || this.now() - at >= withinMs) pods.delete(pod);
    return pods;
  }

  private record(key: string, runtime: string, count: PoolCount): void {
    const before = this.counts.get(key);
    const gone = count.desired === 0 && count.ready === 0 && (this.creating.get(key)?.size ?? 0) === 0;
    if (gone) {
      this.counts.delete(key);
      this.deps.metrics.warmPodsReady.remove({ runtime, namespace: count.namespace });
    } else {
      this.counts.set(key, count);
      this.deps.metrics.warmPodsReady.set({ runtime, namespace: count.namespace }, count.ready);
    }
    if (before ? before.ready !== count.ready || before.desired !== count.desired : !gone) this.deps.counted(runtime);
  }
}

// The runtimes a process knows, and the namespaces' labels their selectors match: two watched caches
// (cluster-scoped ScriptRuntimes and Namespaces), shared by the controller and the API. A runtime or
// namespace the cache does not hold yet (created a moment ago, with the run that names it) is read
// from the apiserver before a run is refused for it.
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type KubernetesObject, type V1Namespace } from "@kubernetes/client-node";
import { RUNTIME_PLURAL, type ScriptRuntime } from "../crds/runtime.js";
import { GROUP, VERSION } from "../crds/schema.js";
import { unless, within } from "./kube.js";
import type { Logger } from "./log.js";
import { type Choice, type NamespaceInfo, chooseRuntime, moduleSuggestion } from "./runtime.js";
import { type CacheListener, WatchedCache } from "./watchedCache.js";

/** Where ScriptRuntimes live in the Kubernetes API, as client-node's CustomObjectsApi takes it. */
export const RUNTIMES = { group: GROUP, version: VERSION, plural: RUNTIME_PLURAL } as const;
export const RUNTIMES_PATH = `/apis/${GROUP}/${VERSION}/${RUNTIME_PLURAL}`;

const READ_TIMEOUT_MS = 10_000;

/** What runs are judged against: the runtimes, and the namespace a run is in. */
export interface Runtimes {
  /** Every runtime known now. */
  list(): ScriptRuntime[];
  /** Whether what is known follows the cluster (false before the first list). */
  readonly synced: boolean;
  choose(requested: string | undefined, namespace: string): Promise<Choice>;
  /** A hint naming another runtime whose image has the module a script missed. */
  suggestFor(module: string, current: string, namespace: string): Promise<string | undefined>;
}

export class RuntimeCatalog implements Runtimes {
  private readonly runtimes: WatchedCache<KubernetesObject>;
  private readonly namespaces: WatchedCache<V1Namespace>;
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;

  /** `listener` hears of every runtime change (the controller keeps their status). */
  constructor(kc: KubeConfig, log: Logger, listener?: CacheListener<ScriptRuntime>) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
    const ignore = { changed: () => {}, deleted: () => {} };
    this.runtimes = new WatchedCache<KubernetesObject>(kc, {
      what: "scriptruntimes",
      path: RUNTIMES_PATH,
      list: () => this.custom.listClusterCustomObject(RUNTIMES),
      read: (name) => this.readRuntime(name) as Promise<KubernetesObject | undefined>,
    }, (listener ?? ignore) as unknown as CacheListener<KubernetesObject>, log);
    this.namespaces = new WatchedCache<V1Namespace>(kc, {
      what: "namespaces",
      path: "/api/v1/namespaces",
      list: () => this.core.listNamespace(),
      read: (name) => this.readNamespace(name),
    }, ignore, log);
  }

  /** Every runtime in the cache. */
  list(): ScriptRuntime[] {
    return this.runtimes.list() as unknown as ScriptRuntime[];
  }

  get(name: string): ScriptRuntime | undefined {
    return this.runtimes.get(name) as unknown as ScriptRuntime | undefined;
  }

  async choose(requested: string | undefined, namespace: string): Promise<Choice> {
    const info = await this.namespaceInfo(namespace);
    const choice = chooseRuntime(requested, this.list(), info);
    if (choice.ok || requested === undefined || this.get(requested)) return choice;
    // Not cached: perhaps created with the run. Ask before refusing.
    const fresh = await this.readRuntime(requested);
    return fresh ? chooseRuntime(requested, [...this.list(), fresh], info) : choice;
  }

  async suggestFor(module: string, current: string, namespace: string): Promise<string | undefined> {
    return moduleSuggestion(module, current, this.list(), await this.namespaceInfo(namespace));
  }

  private async namespaceInfo(name: string): Promise<NamespaceInfo> {
    const namespace = this.namespaces.get(name) ?? await this.readNamespace(name);
    return { name, labels: namespace?.metadata?.labels ?? {} };
  }

  private readRuntime(name: string): Promise<ScriptRuntime | undefined> {
    return unless([404], this.custom.getClusterCustomObject({ ...RUNTIMES, name }, within(READ_TIMEOUT_MS)), undefined) as Promise<ScriptRuntime | undefined>;
  }

  private readNamespace(name: string): Promise<V1Namespace | undefined> {
    return unless([404], this.core.readNamespace({ name }, within(READ_TIMEOUT_MS)), undefined);
  }

  get synced(): boolean {
    return this.runtimes.synced && this.namespaces.synced;
  }

  async start(): Promise<void> {
    await Promise.all([this.runtimes.start(), this.namespaces.start()]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.runtimes.stop(), this.namespaces.stop()]);
  }

  async relist(): Promise<void> {
    await Promise.all([this.runtimes.relist(), this.namespaces.relist()]);
  }
}

/** Fixed runtimes and namespace labels, for unit tests and tools that run without a cluster. */
export class StaticRuntimes implements Runtimes {
  readonly synced = true;

  constructor(public runtimes: ScriptRuntime[], private readonly labels: Record<string, Record<string, string>> = {}) {}

  list(): ScriptRuntime[] {
    return this.runtimes;
  }

  async choose(requested: string | undefined, namespace: string): Promise<Choice> {
    return chooseRuntime(requested, this.runtimes, { name: namespace, labels: this.labels[namespace] ?? {} });
  }

  async suggestFor(module: string, current: string, namespace: string): Promise<string | undefined> {
    return moduleSuggestion(module, current, this.runtimes, { name: namespace, labels: this.labels[namespace] ?? {} });
  }
}

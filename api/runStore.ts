// The API's view of the cluster: the few ScriptRun calls it makes, behind one small interface.
// KubeRunStore backs it with client-node (every call bounded by a timeout, so a silent apiserver
// means 503, never a hung request); the unit tests use an in-memory stand-in.
import {
  ApiException, type ConfigurationOptions, CustomObjectsApi, type KubeConfig, Observable, type ObservableMiddleware,
  PatchStrategy, setHeaderOptions,
} from "@kubernetes/client-node";
import { RUNS, listInPages, unless, within } from "../core/kube.js";
import type { Logger } from "../core/log.js";
import { CANCEL_ANNOTATION } from "../core/runs.js";
import type { ScriptRun } from "../crds/schema.js";
import { RunInformer } from "./runInformer.js";
import type { RunListener, RunWatch } from "./runWatch.js";

/** Label on every ScriptRun the API creates. */
export const CREATED_BY_LABEL = "scriptrun.dev/created-by";

export interface RunPage {
  items: ScriptRun[];
  /** Token of the next page; undefined on the last. */
  continue: string | undefined;
}

export interface RunStore {
  /** "exists" when a run of that name is already there. */
  create(run: ScriptRun): Promise<ScriptRun | "exists">;
  get(namespace: string, name: string): Promise<ScriptRun | undefined>;
  list(namespace: string, page: { limit: number; continue?: string }): Promise<RunPage>;
  /** Marks the run for cancellation; undefined when there is no such run. */
  requestCancel(namespace: string, name: string): Promise<ScriptRun | undefined>;
  /** Resolves when the cluster answers a cheap call. */
  ping(): Promise<void>;
  /** One watch of every ScriptRun, shared by all waiting requests. */
  watch(listener: RunListener): RunWatch;
}

const LIST_TIMEOUT_MS = 60_000;

export interface KubeRunStoreOptions {
  timeoutMs: number;
  relistMs: number;
  log: Logger;
}

export class KubeRunStore implements RunStore {
  private readonly custom: CustomObjectsApi;

  constructor(private readonly kc: KubeConfig, private readonly options: KubeRunStoreOptions) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  create(body: ScriptRun): Promise<ScriptRun | "exists"> {
    const namespace = body.metadata.namespace!;
    return unless([409], this.custom.createNamespacedCustomObject(
      { ...RUNS, namespace, body }, this.timeout()) as Promise<ScriptRun>, "exists" as const);
  }

  get(namespace: string, name: string): Promise<ScriptRun | undefined> {
    return unless([404], this.custom.getNamespacedCustomObject(
      { ...RUNS, namespace, name }, this.timeout()) as Promise<ScriptRun>, undefined);
  }

  async list(namespace: string, page: { limit: number; continue?: string }): Promise<RunPage> {
    const answer = await this.custom.listNamespacedCustomObject({
      ...RUNS, namespace, limit: page.limit,
      ...(page.continue !== undefined ? { _continue: page.continue } : {}),
    }, this.timeout()) as { items?: ScriptRun[]; metadata?: { continue?: string } };
    return { items: answer.items ?? [], continue: answer.metadata?.continue || undefined };
  }

  requestCancel(namespace: string, name: string): Promise<ScriptRun | undefined> {
    // client-node's generated PATCH methods default to a JSON patch; this is a merge patch.
    return unless([404], this.custom.patchNamespacedCustomObject(
      { ...RUNS, namespace, name, body: { metadata: { annotations: { [CANCEL_ANNOTATION]: "true" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch, this.timeout())) as Promise<ScriptRun>, undefined);
  }

  async ping(): Promise<void> {
    // The same permission the shared watch needs: list ScriptRuns in every namespace.
    await this.custom.listClusterCustomObject({ ...RUNS, limit: 1 }, this.timeout());
  }

  watch(listener: RunListener): RunWatch {
    return new RunInformer(this.kc, listener, {
      relistMs: this.options.relistMs,
      log: this.options.log,
      // A full list can be large: it gets more time than a single call.
      list: (reuse) => listInPages((page) => this.custom.listClusterCustomObject({ ...RUNS, ...page },
        within(Math.max(this.options.timeoutMs, LIST_TIMEOUT_MS))), reuse),
      read: (namespace, name) => this.get(namespace, name),
    });
  }

  private timeout(): ConfigurationOptions<ObservableMiddleware> {
    return within(this.options.timeoutMs);
  }
}

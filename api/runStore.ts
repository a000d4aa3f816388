// The API's view of the cluster: the few ScriptRun calls it makes, behind one small interface.
// KubeRunStore backs it with plain JSON calls (core/kube.ts JsonClient, each bounded by a timeout,
// so a silent apiserver means 503, never a hung request) and client-node's list for its watch; the
// unit tests use an in-memory stand-in.
import { CustomObjectsApi, type KubeConfig, PatchStrategy } from "@kubernetes/client-node";
import { JsonClient, RUNS, listInPages, runsPath, unless, within } from "../core/kube.js";
import type { Logger } from "../core/log.js";
import { CANCEL_ANNOTATION } from "../core/runs.js";
import { type ScriptRun, isFinished } from "../crds/schema.js";
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
  /** Marks that version of the run for cancellation: "changed" when it has changed since, and
   * nothing was marked; undefined when there is no such run. */
  requestCancel(namespace: string, name: string, resourceVersion: string | undefined): Promise<ScriptRun | "changed" | undefined>;
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
  private readonly json: JsonClient;

  constructor(private readonly kc: KubeConfig, private readonly options: KubeRunStoreOptions) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.json = new JsonClient(kc);
  }

  async create(body: ScriptRun): Promise<ScriptRun | "exists"> {
    return unless([409], this.json.request<ScriptRun>("POST", this.path(body.metadata.namespace!), body, this.timeout()), "exists" as const);
  }

  async get(namespace: string, name: string): Promise<ScriptRun | undefined> {
    return unless([404], this.json.request<ScriptRun>("GET", this.path(namespace, name), undefined, this.timeout()), undefined);
  }

  async list(namespace: string, page: { limit: number; continue?: string }): Promise<RunPage> {
    const query = new URLSearchParams({ limit: String(page.limit), ...(page.continue !== undefined ? { continue: page.continue } : {}) });
    const answer = await this.json.request<{ items?: ScriptRun[]; metadata?: { continue?: string } }>("GET",
      `${this.path(namespace)}?${query}`, undefined, this.timeout());
    return { items: answer.items ?? [], continue: answer.metadata?.continue || undefined };
  }

  async requestCancel(namespace: string, name: string, resourceVersion: string | undefined): Promise<ScriptRun | "changed" | undefined> {
    // A resourceVersion in a patch is a precondition: the apiserver answers 409 when it is not the run's.
    const metadata = { ...(resourceVersion !== undefined ? { resourceVersion } : {}), annotations: { [CANCEL_ANNOTATION]: "true" } };
    const patch = this.json.request<ScriptRun>("PATCH", this.path(namespace, name), { metadata }, { ...this.timeout(), contentType: PatchStrategy.MergePatch });
    return unless([404], unless([409], patch, "changed" as const), undefined);
  }

  async ping(): Promise<void> {
    // The same permission the shared watch needs: list ScriptRuns in every namespace.
    await this.json.send("GET", `${runsPath()}?limit=1`, undefined, this.timeout());
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

  private timeout(): { timeoutMs: number } {
    return { timeoutMs: this.options.timeoutMs };
  }

  /** The runs of `namespace`, or one of them. */
  private path(namespace: string, name?: string): string {
    // An empty one would make the path of every namespace's runs.
    if (namespace === "") throw new Error("A run's namespace must not be empty");
    return `${runsPath(encodeURIComponent(namespace))}${name === undefined ? "" : `/${encodeURIComponent(name)}`}`;
  }
}

/** Reads of a run a cancel makes before it gives up on a run that changes before each mark. */
const CANCEL_ATTEMPTS = 5;

/** What a cancel found: the run marked, the run finished already (nothing to cancel), no such
 * run, or a run that changed each time it was about to be marked. */
export type CancelAnswer = { kind: "marked" } | { kind: "finished"; run: ScriptRun } | { kind: "missing" } | { kind: "changing" };

/** Cancels a run not yet finished (the API's DELETE /runs/:name, and scriptrun cancel with a
 * kubeconfig). The run may finish between its read and the mark, so the mark holds to the version
 * read, and a run changed meanwhile is read again: a finished run is never marked. */
export async function cancelRun(store: Pick<RunStore, "get" | "requestCancel">, namespace: string, name: string): Promise<CancelAnswer> {
  for (let attempt = 1; attempt <= CANCEL_ATTEMPTS; attempt++) {
    const run = await store.get(namespace, name);
    if (!run) return { kind: "missing" };
    if (isFinished(run.status?.phase)) return { kind: "finished", run };
    const marked = await store.requestCancel(namespace, name, run.metadata.resourceVersion);
    if (!marked) return { kind: "missing" };
    if (marked !== "changed") return { kind: "marked" };
  }
  return { kind: "changing" };
}

// The cluster itself, reached with a kubeconfig as kubectl reaches it (KUBECONFIG or ~/.kube/config,
// or --kubeconfig; its current context, or --context; the context's namespace by default). Runs are
// ScriptRuns created, read and annotated directly, through the API's own run store (so they are
// made and cancelled exactly as the API makes and cancels them), and followed with a watch of the
// one run, re-read now and then in case the watch stops without a word, and, while it runs, its
// runner pod's log for the script's output (pods/log, as kubectl logs reads it).
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CustomObjectsApi, KubeConfig, Watch, findHomeDir } from "@kubernetes/client-node";
import { KubePodLogs } from "../api/podLogs.js";
import { newRunName } from "../api/runNames.js";
import { CREATED_BY_LABEL, KubeRunStore, cancelRun } from "../api/runStore.js";
import { runSummary, runView } from "../api/views.js";
import { runsPath, within } from "../core/kube.js";
import { type OutputFrame, RUNNER_CONTAINER, parseOutputFrame } from "../core/liveOutput.js";
import { silentLogger } from "../core/log.js";
import { isDefault, parseRuntime } from "../core/runtime.js";
import { RUNTIMES } from "../core/runtimeCatalog.js";
import type { ScriptRuntime } from "../crds/runtime.js";
import { API_VERSION, KIND, type ScriptRun, type ScriptRunSpecInput } from "../crds/schema.js";
import type { Backend, RunEvent, RunRef, RunSummary, RunView, RuntimeInfo } from "./backend.js";
import { CliError, asCliError, failed, isTransient, unreachable, usage } from "./errors.js";
import type { Seen } from "../core/runProgress.js";
import { eventsOf } from "./events.js";
import { Mailbox } from "./mailbox.js";

/** Longest wait for one call to the apiserver; past it the cluster counts as unreachable. */
const CALL_TIMEOUT_MS = 15_000;
/** How often a followed run is read again, in case its watch stopped silently. */
const RECHECK_MS = 5_000;
/** Pause before a watch that ended is opened again. */
const REWATCH_MS = 1_000;
const PAGE = 500;

export interface KubeOptions {
  kubeconfig?: string;
  context?: string;
}

/** Where client-node's loadFromDefault looks for a kubeconfig when --kubeconfig is not given. */
export interface DefaultKubeconfig {
  /** KUBECONFIG. */
  variable: string | undefined;
  /** The home directory as client-node finds it, null when there is none. */
  home: string | null;
  exists(path: string): boolean;
}

const hereAndNow = (): DefaultKubeconfig => ({ variable: process.env.KUBECONFIG, home: findHomeDir(), exists: existsSync });

// What a pod's service account gives client-node to reach its cluster with.
const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/** The kubeconfig files to read without --kubeconfig, as kubectl finds them: those of KUBECONFIG
 * that exist, in order, else ~/.kube/config; none for a pod's service account. Refuses to go on
 * when there is nothing to read, where client-node would make up a cluster at
 * http://localhost:8080 (after make up, the ScriptRun API) and fail on it with a puzzle. */
function defaultKubeconfigFiles(where: DefaultKubeconfig): string[] {
  const hint = "Point KUBECONFIG at your cluster's kubeconfig (after make up: export KUBECONFIG=/var/lib/scriptrun-cluster/admin.kubeconfig), "
    + "or use --server URL to go through the ScriptRun API.";
  const listed = (where.variable ?? "").split(delimiter).filter((file) => file !== "");
  if (listed.length > 0) {
    const there = listed.filter((file) => where.exists(file));
    if (there.length > 0) return there;
    throw unreachable(`No kubeconfig: KUBECONFIG names ${listed.join(", ")}, which ${listed.length === 1 ? "does" : "do"} not exist. ${hint}`);
  }
  const homeConfig = where.home !== null ? join(where.home, ".kube", "config") : undefined;
  if (homeConfig !== undefined && where.exists(homeConfig)) return [homeConfig];
  if (where.exists(SERVICE_ACCOUNT_TOKEN)) return [];
  throw unreachable(`No kubeconfig: KUBECONFIG ${where.variable ? "names no file" : "is not set"} and ${homeConfig ?? "~/.kube/config (no home directory)"} does not exist. ${hint}`);
}

/** Reads `files` into `kc` as kubectl merges them: the first to set a value (a cluster, user or
 * context of a name, the current context) wins; no files: the service account of the pod this runs in. */
function loadFiles(kc: KubeConfig, files: string[]): void {
  if (files.length === 0) {
    kc.loadFromCluster();
    return;
  }
  kc.loadFromFile(files[0]!);
  for (const file of files.slice(1)) {
    const more = new KubeConfig();
    more.loadFromFile(file);
    // Not mergeConfig, which fails on a name two files share (as ~/.kube/config and an admin
    // kubeconfig often do): the first file's entry of a name is kept.
    for (const cluster of more.clusters) if (!kc.getCluster(cluster.name)) kc.addCluster(cluster);
    for (const user of more.users) if (!kc.getUser(user.name)) kc.addUser(user);
    for (const context of more.contexts) if (!kc.getContextObject(context.name)) kc.addContext(context);
    if (!kc.getCurrentContext() && more.getCurrentContext()) kc.setCurrentContext(more.getCurrentContext());
  }
}

/** The kubeconfig as kubectl would read it, with --kubeconfig and --context applied. `defaults`
 * says where to look without --kubeconfig: this process's environment unless a test says otherwise. */
export function loadKubeConfig(options: KubeOptions, defaults: DefaultKubeconfig = hereAndNow()): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (options.kubeconfig !== undefined) {
      if (!existsSync(options.kubeconfig)) throw usage(`No kubeconfig at ${options.kubeconfig}`);
      kc.loadFromFile(options.kubeconfig);
    } else {
      loadFiles(kc, defaultKubeconfigFiles(defaults));
    }
  } catch (err) {
    throw err instanceof CliError ? err : usage(`Could not read the kubeconfig: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (options.context !== undefined) {
    if (!kc.getContextObject(options.context)) {
      const names = kc.getContexts().map((c) => c.name);
      throw usage(`No context "${options.context}" in the kubeconfig; it has: ${names.join(", ") || "none"}`);
    }
    kc.setCurrentContext(options.context);
  }
  if (!kc.getCurrentCluster()) throw usage(`The kubeconfig's context "${kc.getCurrentContext()}" names no cluster`);
  return kc;
}

export class KubeBackend implements Backend {
  readonly where: string;
  private readonly store: KubeRunStore;
  private readonly custom: CustomObjectsApi;
  private readonly defaultNamespace: string;

  constructor(private readonly kc: KubeConfig, private readonly recheckMs = RECHECK_MS) {
    this.where = `the cluster at ${kc.getCurrentCluster()?.server} (context ${kc.getCurrentContext()})`;
    this.store = new KubeRunStore(kc, { timeoutMs: CALL_TIMEOUT_MS, relistMs: 0, log: silentLogger() });
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.defaultNamespace = kc.getContextObject(kc.getCurrentContext())?.namespace ?? "default";
  }

  async submit(spec: ScriptRunSpecInput, namespace: string | undefined, idempotencyKey?: string): Promise<RunRef> {
    // Only the API makes a key's retries one run (api/idempotency.ts); a run made here has a random name.
    if (idempotencyKey !== undefined) throw usage("--idempotency-key needs --server: the API is what answers a retry with the first run");
    const ns = namespace ?? this.defaultNamespace;
    const name = newRunName();
    const created = await this.call(() => this.store.create({
      apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace: ns, labels: { [CREATED_BY_LABEL]: "cli" } }, spec,
    }));
    // 60 random bits: taken already means a fluke, and trying again is the answer.
    if (created === "exists") throw failed(`A run named ${name} already exists in ${ns}; run the command again`);
    return { name, namespace: ns };
  }

  async get(name: string, namespace: string | undefined): Promise<RunView> {
    return runView(await this.read({ name, namespace: namespace ?? this.defaultNamespace }));
  }

  async list(namespace: string | undefined): Promise<RunSummary[]> {
    const ns = namespace ?? this.defaultNamespace;
    const runs: ScriptRun[] = [];
    let token: string | undefined;
    do {
      const page = await this.call(() => this.store.list(ns, { limit: PAGE, ...(token !== undefined ? { continue: token } : {}) }));
      runs.push(...page.items);
      token = page.continue;
    } while (token !== undefined);
    return runs.map(runSummary);
  }

  async cancel(name: string, namespace: string | undefined): Promise<RunRef> {
    const ref = { name, namespace: namespace ?? this.defaultNamespace };
    const answer = await this.call(() => cancelRun(this.store, ref.namespace, name));
    if (answer.kind === "missing") throw notFound(ref);
    if (answer.kind === "finished") throw failed(`Run ${name} already finished (${answer.run.status?.phase}); there is nothing to cancel`);
    if (answer.kind === "changing") throw failed(`Run ${name} changed each time it was about to be cancelled; try again`);
    return ref;
  }

  async *follow(ref: RunRef, signal: AbortSignal, known = false): AsyncGenerator<RunEvent> {
    const snapshots = new Mailbox<ScriptRun | undefined | OutputFrame>();
    const stop = new AbortController();
    const stopped = AbortSignal.any([signal, stop.signal]);
    void this.watchRun(ref, snapshots, stopped);
    // One re-read at a time: against a slow apiserver they would pile up, each waiting its timeout.
    let reading = false;
    const recheck = setInterval(() => {
      if (reading) return;
      reading = true;
      this.store.get(ref.namespace, ref.name).then((run) => snapshots.put(run), (err: unknown) => {
        // The watch may be well and the run going on: a busy or restarting apiserver is asked again
        // at the next tick. A definitive answer (not allowed, say) ends the follow.
        if (!isTransient(err)) snapshots.fail(asCliError(err, this.where));
      }).finally(() => { reading = false; });
    }, this.recheckMs);
    let following = false;
    try {
      // Read after the watch started, so no change falls between the two.
      const first = await this.firstLook(ref, known);
      if (first === "unread") {
        yield { type: "interrupted", message: `Could not read run ${ref.name} from ${this.where}; trying again every ${this.recheckMs / 1000} s` };
      } else {
        snapshots.put(first);
      }
      let seen: Seen = {};
      for (;;) {
        const next = await snapshots.take(stopped);
        if (next === "stopped") return;
        if (next !== undefined && "stream" in next) {
          yield { type: "output", stream: next.stream, offset: next.offset, text: next.text };
          continue;
        }
        const podName = next?.status?.phase === "Running" ? next.status.podName : undefined;
        if (!following && podName) {
          // The runner pod's log, as the API follows it: the script's output as it comes.
          following = true;
          const line = (text: string) => {
            const frame = parseOutputFrame(text);
            if (frame) snapshots.put(frame);
          };
          new KubePodLogs(this.kc).follow(ref.namespace, podName, RUNNER_CONTAINER, line, stopped).catch(() => undefined);
        }
        const { events, seen: now } = eventsOf(seen, next);
        seen = now;
        for (const event of events) {
          yield event;
          if (event.type !== "phase") return;
        }
      }
    } finally {
      stop.abort();
      clearInterval(recheck);
    }
  }

  async runtimes(): Promise<RuntimeInfo[]> {
    const list = await this.call(() => this.custom.listClusterCustomObject(RUNTIMES, within(CALL_TIMEOUT_MS))) as { items: ScriptRuntime[] };
    return list.items.flatMap((runtime) => {
      const parsed = parseRuntime(runtime);
      if (!parsed.ok) return [];
      const { name, spec } = parsed.runtime;
      return [{ name, default: isDefault(runtime), image: spec.image, modules: spec.modules ?? [], defaults: spec.defaults, maxima: spec.maxima }];
    }).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Watches the one run, feeding its snapshots to `snapshots` (undefined once it is deleted),
   * and opens the watch again whenever it ends, until `stopped`. */
  private async watchRun(ref: RunRef, snapshots: Mailbox<ScriptRun | undefined | OutputFrame>, stopped: AbortSignal): Promise<void> {
    while (!stopped.aborted) {
      const ended = new Promise<void>((resolve) => {
        new Watch(this.kc).watch(runsPath(ref.namespace), { fieldSelector: `metadata.name=${ref.name}` }, (type, obj: ScriptRun) => {
          if (type === "ADDED" || type === "MODIFIED") snapshots.put(obj);
          else if (type === "DELETED") snapshots.put(undefined);
        }, () => resolve()).then((watch) => {
          if (stopped.aborted) watch.abort();
          else stopped.addEventListener("abort", () => watch.abort(), { once: true });
        }, () => resolve());
      });
      await ended;
      // A watch that cannot open (no permission to watch, say) leaves the re-reads to follow the run.
      await sleep(REWATCH_MS, undefined, { signal: stopped }).catch(() => undefined);
    }
  }

  /** The run as follow first sees it. A run this process has just created or read is there: a
   * passing failure to read it is "unread" (the watch and the re-reads carry on), and not finding
   * it means it was deleted meanwhile (undefined). */
  private async firstLook(ref: RunRef, known: boolean): Promise<ScriptRun | undefined | "unread"> {
    if (!known) return this.read(ref);
    try {
      return await this.store.get(ref.namespace, ref.name);
    } catch (err) {
      if (isTransient(err)) return "unread";
      throw asCliError(err, this.where);
    }
  }

  private async read(ref: RunRef): Promise<ScriptRun> {
    const run = await this.call(() => this.store.get(ref.namespace, ref.name));
    if (!run) throw notFound(ref);
    return run;
  }

  private async call<T>(request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      throw asCliError(err, this.where);
    }
  }
}

const notFound = (ref: RunRef) => failed(`No run ${ref.name} in namespace ${ref.namespace}`);

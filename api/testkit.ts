// What the API's unit tests share: an in-memory RunStore whose stand-in controller finishes runs
// (unit tests only; the real-cluster tests drive the API against a real apiserver and controller),
// scripted token and access reviews, and an app built from them with the real preflight server
// (images/runner/runner.py, CPython's own parser).
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import supertest from "supertest";
import { silentLogger } from "../core/log.js";
import { PreflightClient, defaultRunnerPath } from "../core/preflight.js";
import type { Runtimes } from "../core/runtimeCatalog.js";
import { CANCEL_ANNOTATION, keyOf, runKey } from "../core/runs.js";
import { testRuntimes } from "../core/testkit.js";
import { API_VERSION, KIND, type Phase, type ScriptRun, type ScriptRunStatus } from "../crds/schema.js";
import { createApp } from "./app.js";
import { type AccessReviews, type Auth, NoAuth, type User, type Verb } from "./auth.js";
import { type ApiConfig, loadApiConfig } from "./config.js";
import type { PodLogs } from "./podLogs.js";
import type { RunPage, RunStore } from "./runStore.js";
import type { RunListener, RunWatch } from "./runWatch.js";
import { Waiter } from "./waiter.js";

const copy = <T>(value: T): T => structuredClone(value);

/** A copy of run `run-k` in `default` with its own `uid`, made at second `madeAt` (of a fixed
 * minute), in `phase` when given: for a run made again under the same name. */
export function runCopy(uid: string, madeAt: number, phase?: Phase): ScriptRun {
  return {
    apiVersion: API_VERSION, kind: KIND,
    metadata: { name: "run-k", namespace: "default", uid, creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, madeAt)).toISOString() },
    spec: { script: "x = 1\n" },
    ...(phase ? { status: { phase } } : {}),
  };
}

/** The configuration tests start from: no auth, the checkout's runner for preflight. */
export function testConfig(env: Record<string, string> = {}): ApiConfig {
  return loadApiConfig({ SCRIPTRUN_API_AUTH: "none", SCRIPTRUN_RUNNER_PATH: defaultRunnerPath(), ...env });
}

/** ScriptRuns in memory, and a stand-in for the controller: each created run goes Running, then
 * ends with what `outcome` says (undefined: it keeps running). A cancel request fails it as cancelled. */
/** Runner logs a test writes to: a follow reads what a pod's log has, then each line written, until aborted. */
export class FakePodLogs implements PodLogs {
  /** namespace/pod/container of each follow, in order. */
  readonly followed: string[] = [];
  /** How many follows still to fail, as the kubelet's log endpoint can. */
  failures = 0;
  private readonly pods = new Map<string, { lines: string[]; readers: Set<(text: string) => void> }>();

  private log(pod: string) {
    const log = this.pods.get(pod) ?? { lines: [], readers: new Set<(text: string) => void>() };
    this.pods.set(pod, log);
    return log;
  }

  /** How many follows of `pod` are open. */
  following(pod: string): number {
    return this.log(pod).readers.size;
  }

  write(pod: string, text: string): void {
    const log = this.log(pod);
    log.lines.push(text);
    for (const reader of log.readers) reader(text);
  }

  async follow(namespace: string, pod: string, container: string, line: (text: string) => void, signal: AbortSignal): Promise<void> {
    this.followed.push(`${namespace}/${pod}/${container}`);
    if (this.failures > 0) {
      this.failures--;
      throw new Error("container \"runner\" in pod is waiting to start: ContainerCreating");
    }
    const log = this.log(pod);
    for (const text of log.lines) line(text);
    log.readers.add(line);
    if (!signal.aborted) await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
    log.readers.delete(line);
  }
}

export class FakeRunStore implements RunStore {
  readonly runs = new Map<string, ScriptRun>();
  /** Thrown by every call while set (e.g. a connection error). */
  failure: unknown;
  /** Thrown by the next create, after it made the run when `made` (an answer lost on its way). */
  createLost: { err: unknown; made: boolean } | undefined;
  finishAfterMs = 20;
  /** How many watches were started on this store. */
  watchesStarted = 0;
  outcome: (run: ScriptRun) => ScriptRunStatus | undefined = () => ({ phase: "Succeeded", result: "ok", stdout: "", stderr: "", exitCode: 0, durationMs: 7 });
  private listener: RunListener | undefined;
  private version = 1;
  /** Copies of runs made: each has a uid of its own, as a run made again under the same name does. */
  private copies = 0;
  private readonly timers = new Set<NodeJS.Timeout>();

  async create(run: ScriptRun): Promise<ScriptRun | "exists"> {
    this.check();
    const lost = this.createLost;
    this.createLost = undefined;
    if (lost && !lost.made) throw lost.err;
    const { namespace = "", name = "" } = run.metadata;
    if (this.runs.has(runKey(namespace, name))) return "exists";
    const stored: ScriptRun = copy({ ...run, metadata: { ...run.metadata, uid: `uid-${name}-${++this.copies}`, creationTimestamp: new Date().toISOString() } });
    this.put(stored);
    this.later(() => {
      this.setStatus(namespace, name, { phase: "Running" });
      this.later(() => {
        const current = this.runs.get(runKey(namespace, name));
        const status = current && this.outcome(current);
        if (status) this.setStatus(namespace, name, status);
      });
    });
    if (lost) throw lost.err;
    return copy(stored);
  }

  async get(namespace: string, name: string): Promise<ScriptRun | undefined> {
    this.check();
    const run = this.runs.get(runKey(namespace, name));
    return run && copy(run);
  }

  async list(namespace: string, page: { limit: number; continue?: string }): Promise<RunPage> {
    this.check();
    const all = [...this.runs.values()].filter((r) => r.metadata.namespace === namespace)
      .sort((a, b) => (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""));
    const from = page.continue === undefined ? 0 : Number(page.continue);
    const next = from + page.limit;
    return { items: all.slice(from, next).map(copy), continue: next < all.length ? String(next) : undefined };
  }

  async requestCancel(namespace: string, name: string, resourceVersion?: string): Promise<ScriptRun | "changed" | undefined> {
    this.check();
    const run = this.runs.get(runKey(namespace, name));
    if (!run) return undefined;
    // As the apiserver holds a patch to the resourceVersion it carries.
    if (resourceVersion !== undefined && resourceVersion !== run.metadata.resourceVersion) return "changed";
    run.metadata.annotations = { ...run.metadata.annotations, [CANCEL_ANNOTATION]: "true" };
    this.put(run);
    this.later(() => this.setStatus(namespace, name, { phase: "Failed", error: { type: "cancelled", message: "The run was cancelled" } }));
    return copy(run);
  }

  async ping(): Promise<void> {
    this.check();
  }

  watch(listener: RunListener): RunWatch {
    const store = this;
    let synced = false;
    return {
      start() {
        store.watchesStarted++;
        store.listener = listener;
        synced = true;
        listener.resynced();
      },
      async stop() {
        store.listener = undefined;
        for (const timer of store.timers) clearTimeout(timer);
      },
      get synced() {
        return synced;
      },
    };
  }

  /** Changes a run's status as the controller would, and tells the watch (unless `silently`). */
  setStatus(namespace: string, name: string, status: ScriptRunStatus, silently = false): void {
    const run = this.runs.get(runKey(namespace, name));
    if (!run) return;
    run.status = { ...run.status, ...status };
    this.put(run, silently);
  }

  remove(namespace: string, name: string): void {
    const run = this.runs.get(runKey(namespace, name));
    if (!run) return;
    this.runs.delete(runKey(namespace, name));
    this.listener?.deleted(copy(run));
  }

  /** What a restarted watch does: the listener re-checks what it waits for. */
  resync(): void {
    this.listener?.resynced();
  }

  private put(run: ScriptRun, silently = false): void {
    run.metadata.resourceVersion = String(++this.version);
    this.runs.set(keyOf(run), run);
    if (!silently) this.listener?.changed(copy(run));
  }

  private later(fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, this.finishAfterMs);
    this.timers.add(timer);
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

/** Token and access reviews as a script: users by token, and grants of `user|verb|namespace`. */
export class ScriptedReviews implements AccessReviews {
  readonly users = new Map<string, User>();
  readonly grants = new Set<string>();
  failure: unknown;

  grant(username: string, verbs: Verb[], namespace: string): void {
    for (const verb of verbs) this.grants.add(`${username}|${verb}|${namespace}`);
  }

  async reviewToken(token: string): Promise<User | undefined> {
    if (this.failure !== undefined) throw this.failure;
    return this.users.get(token);
  }

  async reviewAccess(user: User, verb: Verb, namespace: string): Promise<{ allowed: boolean; reason?: string }> {
    if (this.failure !== undefined) throw this.failure;
    const allowed = this.grants.has(`${user.username}|${verb}|${namespace}`);
    return allowed ? { allowed } : { allowed, reason: "no RBAC rule allows it" };
  }
}

let sharedPreflight: PreflightClient | undefined;

/** One real preflight server for every test app. */
function preflight(): PreflightClient {
  sharedPreflight ??= new PreflightClient({ runnerPath: defaultRunnerPath(), timeoutMs: 10_000 });
  return sharedPreflight;
}

/** Stops the shared preflight server (its child process), for a process that is done with test apps. */
export async function closePreflight(): Promise<void> {
  await sharedPreflight?.close();
  sharedPreflight = undefined;
}

// A root-level hook: once every test has run, the preflight child goes, so mocha can exit.
// Outside mocha (test/fuzz/server.ts) there is no `after`; that caller closes it itself.
if (typeof after === "function") after(closePreflight);

export interface TestApp {
  http: ReturnType<typeof supertest>;
  store: FakeRunStore;
  podLogs: FakePodLogs;
  waiter: Waiter;
  config: ApiConfig;
  registry: Registry;
  /** The app's address, for tests that need a socket of their own (hang-ups, streams). */
  url(): Promise<string>;
  close(): Promise<void>;
}

export function testApp(options: { env?: Record<string, string>; auth?: Auth; runtimes?: Runtimes } = {}): TestApp {
  const config = testConfig(options.env);
  const store = new FakeRunStore();
  const log = silentLogger();
  const registry = new Registry();
  const waiter = new Waiter(store, { maxWaits: config.maxConcurrentWaits, recheckMs: config.recheckSeconds * 1000, holdWhenFull: config.holdWhenFull, log });
  waiter.start();
  const podLogs = new FakePodLogs();
  const app = createApp({ runs: store, waiter, podLogs, preflight: preflight(), runtimes: options.runtimes ?? testRuntimes(), config, auth: options.auth ?? new NoAuth(), registry, log });
  const server = app.listen(0, "127.0.0.1");
  return {
    http: supertest(server),
    store,
    podLogs,
    waiter,
    config,
    registry,
    async url() {
      if (!server.listening) await new Promise((resolve) => server.once("listening", resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await waiter.stop();
    },
  };
}

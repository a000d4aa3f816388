// Where a chaos scenario happens: a namespace of its own, a runtime with a warm pool of two pods in
// it (the default runtime's spec, as bench/warm.ts makes one), the real controller (one process, or
// two replicas standing for leader on a Lease), and what the scenario sees: its runs, every pod, and
// the controller's word on pods that ran nothing. It creates the runs, kills and restarts the
// controllers, and at the end waits for every run and tallies.
import type { ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { CoordinationV1Api } from "@kubernetes/client-node";
import { createWarmRuntime, deleteWarmRuntime, isReadyPoolPod } from "../../bench/warm.js";
import { statusCode } from "../../core/kube.js";
import { POOL_LABEL } from "../../operator/warmPool.js";
import { type ApiProcess, startApi } from "../cluster/api.js";
import { createRun, startController, stopController } from "../cluster/controller.js";
import { type Build, core, createNamespace, defaultRuntime, deleteNamespace, eventually, kc } from "../cluster/kube.js";
import { type Listed, PodLedger, RunPoller, unusedPods } from "./observe.js";
import { type Flag, type ScenarioFigures, type Tracked, tally } from "./tally.js";
import { type Job, probe } from "./workload.js";

export interface StageOptions {
  /** What the controllers (and an API) run: the sources through tsx (tests) or dist/ (make chaos). */
  build: Build;
  /** Where the processes' logs go, a folder per scenario. */
  logDir: string;
  /** Controller replicas; two stand for leader on a Lease. */
  replicas?: number;
  /** How long after the fault is undone a run may take to end before it counts as stuck. */
  stuckAfterMs?: number;
}

/** A run that runs now, on its pod. */
export interface Running {
  name: string;
  podName: string;
  start?: string;
}

const POOL_SIZE = 2;
const LEASE = "scriptrun-chaos";
const STUCK_AFTER_MS = 150_000;

export class Stage {
  readonly logDir: string;
  private readonly controllers: Array<ChildProcess | undefined> = [];
  private readonly tracked = new Map<string, Tracked>();
  private readonly flags: Flag[] = [];
  private readonly notes: string[] = [];
  /** Work that must be over before the stage closes (a cluster component's restart). */
  private readonly pending: Array<Promise<unknown>> = [];
  private readonly pods: PodLedger;
  private readonly runs: RunPoller;

  private constructor(readonly scenario: string, readonly namespace: string, readonly runtime: string, private readonly options: StageOptions) {
    this.logDir = `${options.logDir}/${scenario}`;
    mkdirSync(this.logDir, { recursive: true });
    this.pods = new PodLedger(kc, namespace);
    this.runs = new RunPoller(namespace);
  }

  /** The stage set: its runtime's pool full and its controllers up. */
  static async open(scenario: string, options: StageOptions): Promise<Stage> {
    const base = (await defaultRuntime()).name;
    const namespace = await createNamespace("chaos");
    const runtime = await createWarmRuntime(kc, namespace, base, POOL_SIZE).catch(async (err: unknown) => {
      await deleteNamespace(namespace);
      throw err;
    });
    const stage = new Stage(scenario, namespace, runtime, options);
    try {
      await stage.pods.start();
      stage.runs.start();
      for (let i = 0; i < (options.replicas ?? 1); i++) await stage.startController(i);
      await eventually(`${POOL_SIZE} ready warm pods in ${namespace}`, async () => {
        const pods = await core.listNamespacedPod({ namespace, labelSelector: `${POOL_LABEL}=${runtime}` });
        return pods.items.filter((p) => isReadyPoolPod(p, runtime)).length >= POOL_SIZE || undefined;
      }, 120_000);
      return stage;
    } catch (err) {
      await stage.close();
      throw err;
    }
  }

  /** Starts `start` with its output appended to the scenario's log file `name`. */
  private async logged<T>(name: string, start: (output: number) => T | Promise<T>): Promise<T> {
    const output = openSync(`${this.logDir}/${name}`, "a");
    try {
      return await start(output);
    } finally {
      // The child has its own copy.
      closeSync(output);
    }
  }

  /** Starts an API on this stage (its log: api.log) with `env`. */
  startApi(env: Record<string, string>): Promise<ApiProcess> {
    return this.logged("api.log", (output) => startApi(env, this.options.build, output));
  }

  private async startController(i: number): Promise<void> {
    const replicas = this.options.replicas ?? 1;
    const election: Record<string, string> = replicas > 1 ? {
      SCRIPTRUN_LEADER_ELECTION: "true", SCRIPTRUN_LEASE_NAMESPACE: this.namespace, SCRIPTRUN_LEASE_NAME: LEASE,
      SCRIPTRUN_LEADER_IDENTITY: `replica-${i}`,
    } : {};
    this.controllers[i] = await this.logged(`controller-${i}.log`,
      (output) => startController(this.namespace, { SCRIPTRUN_LOG_LEVEL: "info", ...election }, this.options.build, output));
  }

  /** SIGKILLs controller `i` and, unless told not to, starts it again at once; resolves with when. */
  async killController(i: number, restart = true): Promise<number> {
    const child = this.controllers[i];
    if (child) await stopController(child, "SIGKILL");
    this.controllers[i] = undefined;
    if (restart) await this.startController(i);
    return Date.now();
  }

  /** The replica holding the Lease. */
  async leader(): Promise<number> {
    const leases = kc.makeApiClient(CoordinationV1Api);
    return eventually("a replica to lead", async () => {
      const holder = (await leases.readNamespacedLease({ name: LEASE, namespace: this.namespace })).spec?.holderIdentity;
      return holder?.startsWith("replica-") ? Number(holder.slice("replica-".length)) : undefined;
    }, 60_000);
  }

  /** Creates the job's run: true when the apiserver took it (now, or at an earlier try whose
   * answer was lost: 409), false when it refused or did not answer. */
  private create(job: Job): Promise<boolean> {
    return createRun(this.namespace, job.name, job.spec).then(() => true, (err: unknown) => statusCode(err) === 409);
  }

  /** Creates the jobs' runs at once; a create that fails (an outage) leaves its run untracked
   * unless it turns out to exist. */
  async submit(jobs: readonly Job[]): Promise<void> {
    await Promise.all(jobs.map(async (job) => this.track(job, await this.create(job))));
  }

  /** Counts a run the scenario made another way (through the API). */
  track(job: Pick<Job, "name" | "expected">, acknowledged = true): void {
    this.tracked.set(job.name, { name: job.name, expected: job.expected, acknowledged });
  }

  /** Counts what the scenario found wrong beyond the runs' own states (an API's answer, say). */
  flag(flag: Flag): void {
    this.flags.push(flag);
  }

  /** Records what the scenario saw that is no fault of the system's. */
  note(line: string): void {
    this.notes.push(line);
  }

  /** Waits for a cluster component's restart (or other work) before the stage closes. */
  await(work: Promise<unknown>): void {
    this.pending.push(work);
  }

  /** Waits until `ok` holds of the namespace's runs as last listed. */
  async until(what: string, ok: (runs: ReadonlyMap<string, Listed>) => boolean, timeoutMs = 60_000): Promise<void> {
    await eventually(what, async () => ok(this.runs.runs()) || undefined, timeoutMs);
  }

  /** Waits until a pod for one of the runs `names` exists (by its run label, as the pod watch
   * sees it: within milliseconds): the controller is making or claiming their pods. */
  async podFor(names: readonly string[], timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.pods.traces().some((p) => p.run !== undefined && names.includes(p.run))) {
      if (Date.now() > deadline) throw new Error(`No pod for ${names.join(", ")} within ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  /** Waits until at least `count` of the scenario's runs run (Running, on a pod), and `enough` holds
   * of them, and returns them, warm ones first. */
  async running(count: number, timeoutMs = 60_000, enough: (running: Running[]) => boolean = () => true): Promise<Running[]> {
    return eventually(`${count} runs of ${this.scenario} to be running`, async () => {
      const running = [...this.tracked.keys()].flatMap((name) => {
        const view = this.runs.runs().get(name);
        return view?.phase === "Running" && view.podName ? [{ name, podName: view.podName, start: view.start }] : [];
      });
      running.sort((a, b) => Number(b.start === "warm") - Number(a.start === "warm"));
      return running.length >= count && enough(running) ? running : undefined;
    }, timeoutMs);
  }

  /** Makes a probe run once the fault is undone (retrying its create until the apiserver takes it),
   * waits until every run ended or `stuckAfterMs` passed since `undoneAt`, and tallies. */
  async settle(fault: string, undoneAt: number): Promise<ScenarioFigures> {
    const deadline = undoneAt + (this.options.stuckAfterMs ?? STUCK_AFTER_MS);
    const job = probe(this.runtime);
    while (!this.tracked.has(job.name) && Date.now() < deadline) {
      if (await this.create(job)) this.track(job);
      else await sleep(500);
    }
    const names = [...this.tracked.keys()];
    while (!this.runs.allFinished(names) && Date.now() < deadline) await sleep(250);
    await this.runs.stop();
    const unused = await eventually("the controller's events", () => unusedPods(this.namespace), 60_000);
    this.pods.stop();
    return tally(this.scenario, fault, [...this.tracked.values()], { runs: this.runs.runs(), pods: this.pods.traces(), unusedPods: unused },
      undoneAt, this.flags, this.notes);
  }

  /** Stops the controllers, waits for pending work, and removes the runtime and the namespace. */
  async close(): Promise<void> {
    this.pods.stop();
    await this.runs.stop();
    await Promise.all(this.controllers.map((child) => child && stopController(child)));
    try {
      await Promise.all(this.pending);
    } finally {
      await deleteWarmRuntime(kc, this.runtime);
      await deleteNamespace(this.namespace);
    }
  }
}

// The controller proper, as the leader runs it: watches feed keys into the work queue, workers
// reconcile them, and timers guard against missed events (resync: every key again; relist: fresh
// informers). Started when this replica becomes leader, stopped when it stops being one.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../core/log.js";
import type { PreflightClient } from "../core/preflight.js";
import { RuntimeCatalog } from "../core/runtimeCatalog.js";
import type { Config } from "./config.js";
import { EventRecorder } from "./events.js";
import { watch } from "./informers.js";
import { ClientKube } from "./kube.js";
import { type Metrics, observeStage } from "./metrics.js";
import { Reconciler } from "./reconcile.js";
import { PoolKeeper } from "./poolKeeper.js";
import { RuntimeKeeper } from "./runtimeKeeper.js";
import { PodAttacher } from "./warmAttach.js";
import { WarmRuns } from "./warmRuns.js";
import { WorkQueue } from "./workqueue.js";

export interface ControllerDeps {
  kc: KubeConfig;
  config: Config;
  log: Logger;
  metrics: Metrics;
  preflight: PreflightClient;
}

// How often the active and queued gauges are counted afresh.
const SLOT_GAUGES_MS = 5000;

export class Controller {
  private readonly queue: WorkQueue;
  private readonly watches: ReturnType<typeof watch>;
  private readonly runtimes: RuntimeCatalog;
  private readonly keeper: RuntimeKeeper;
  private readonly pools: PoolKeeper;
  private readonly warm: WarmRuns;
  private readonly reconciler: Reconciler;
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(private readonly deps: ControllerDeps) {
    const { kc, config, log, metrics, preflight } = deps;
    const enqueue = (key: string, urgent = false) => {
      this.queue.add(key, urgent);
      metrics.workqueueDepth.set(this.queue.depth);
    };
    this.watches = watch(kc, config.watchNamespaces, enqueue, log, (pod) => {
      this.pools.podChanged(pod);
      this.warm.podChanged(pod);
    });
    const kube = new ClientKube(kc);
    const events = new EventRecorder(kube, log, config.leaderElection.identity, config.leaderElection.leaseNamespace);
    const changed = () => {
      this.keeper.changed();
      this.pools.runtimesChanged();
    };
    // Runs read the runtime when they start, so a change reaches every run queued after it.
    this.runtimes = new RuntimeCatalog(kc, log, { changed, deleted: changed });
    this.keeper = new RuntimeKeeper({
      list: () => this.runtimes.list(),
      get: (name) => this.runtimes.get(name),
      patchStatus: (name, status) => kube.patchRuntimeStatus(name, status),
      record: (runtime, note) => events.recordOnRuntime(runtime, note),
      pools: (name) => this.pools.poolsOf(name),
      log,
    });
    this.pools = new PoolKeeper({
      runtimes: this.runtimes, pods: this.watches.pods, kube, settings: config, watchNamespaces: config.watchNamespaces, metrics, log,
      counted: (name) => this.keeper.poolsChanged(name),
    });
    const warm = this.warm = new WarmRuns({
      kube, pods: this.watches.pods, attacher: new PodAttacher(kc), log, enqueue, graceSeconds: config.deadlineGraceSeconds,
      templateOf: (runtime) => this.pools.templateOf(runtime),
      claimed: (runtime, namespace, pod) => this.pools.claimed(runtime, namespace, pod),
    });
    const reconciler = this.reconciler = new Reconciler({
      kube, runs: this.watches.runs, pods: this.watches.pods, open: this.watches.open, preflight, config, metrics, log, enqueue, events,
      runtimes: this.runtimes, images: this.keeper, warm,
    });
    this.queue = new WorkQueue({
      workers: config.workers,
      // A run reconciled before the runtimes are listed would be refused as having none.
      paused: true,
      process: (key, queuedAt) => reconciler.reconcile(key, queuedAt),
      onPickup: (_key, waitedMs) => {
        observeStage(metrics, "queue", waitedMs / 1000);
        metrics.workqueueDepth.set(this.queue.depth);
      },
      onError: (key, err, retryInMs) => {
        metrics.reconcileErrors.inc();
        log.warn({ run: key, err: String(err), retryInMs }, "Failed to reconcile run; retrying");
      },
    });
  }

  /** Fills the caches, then lets the workers go. */
  async start(): Promise<void> {
    const { config, log } = this.deps;
    await Promise.all([this.runtimes.start(), this.watches.start()]);
    if (this.stopped) return;
    this.queue.start();
    this.pools.start();
    log.info({ namespaces: config.watchNamespaces.length > 0 ? config.watchNamespaces : "all", workers: config.workers }, "Started controller");
    this.timers.push(setInterval(() => {
      // A finished run with no pod has nothing left to do, but its TTL, which its requeue holds.
      for (const key of this.watches.open.keys()) this.queue.add(key);
      this.pools.runtimesChanged();
    }, config.resyncSeconds * 1000));
    // Decisions no longer plan every slot each time (slots.ts), so the gauges get one of their own.
    this.timers.push(setInterval(() => this.reconciler.countSlots(), SLOT_GAUGES_MS));
    this.timers.push(setInterval(() => {
      Promise.all([this.watches.relist(), this.runtimes.relist()]).catch((err: unknown) => log.warn({ err: String(err) }, "Failed to re-list"));
    }, config.relistSeconds * 1000));
  }

  /** Stops watching and taking work; waits for the reconciles in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    // First: a reconcile still under way must not send a run's request after this process stopped
    // leading, as the new leader may be starting the same run.
    this.warm.stop();
    await Promise.all([this.watches.stop(), this.runtimes.stop()]);
    await this.queue.shutdown();
    await this.pools.shutdown();
    await this.keeper.shutdown();
    this.deps.log.info("Stopped controller");
  }
}

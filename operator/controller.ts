// The controller proper, as the leader runs it: watches feed keys into the work queue, workers
// reconcile them, and timers guard against missed events (resync: every key again; relist: fresh
// informers). Started when this replica becomes leader, stopped when it stops being one.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../core/log.js";
import type { PreflightClient } from "../core/preflight.js";
import { runKey } from "../core/runs.js";
import type { Config } from "./config.js";
import { EventRecorder } from "./events.js";
import { watch } from "./informers.js";
import { ClientKube } from "./kube.js";
import { type Metrics, observeStage } from "./metrics.js";
import { Reconciler } from "./reconcile.js";
import { WorkQueue } from "./workqueue.js";

export interface ControllerDeps {
  kc: KubeConfig;
  config: Config;
  log: Logger;
  metrics: Metrics;
  preflight: PreflightClient;
}

export class Controller {
  private readonly queue: WorkQueue;
  private readonly watches: ReturnType<typeof watch>;
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(private readonly deps: ControllerDeps) {
    const { kc, config, log, metrics, preflight } = deps;
    const enqueue = (key: string) => {
      this.queue.add(key);
      metrics.workqueueDepth.set(this.queue.depth);
    };
    this.watches = watch(kc, config.watchNamespaces, enqueue, log);
    const kube = new ClientKube(kc);
    const reconciler = new Reconciler({
      kube, runs: this.watches.runs, pods: this.watches.pods, preflight, config, metrics, log, enqueue,
      events: new EventRecorder(kube, log, config.leaderElection.identity),
    });
    this.queue = new WorkQueue({
      workers: config.workers,
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
    await this.watches.start();
    if (this.stopped) return;
    log.info({ namespaces: config.watchNamespaces.length > 0 ? config.watchNamespaces : "all", workers: config.workers }, "Started controller");
    this.timers.push(setInterval(() => {
      for (const run of this.watches.runs.list()) this.queue.add(runKey(run.metadata.namespace ?? "", run.metadata.name ?? ""));
    }, config.resyncSeconds * 1000));
    this.timers.push(setInterval(() => {
      this.watches.relist().catch((err: unknown) => log.warn({ err: String(err) }, "Failed to re-list"));
    }, config.relistSeconds * 1000));
  }

  /** Stops watching and taking work; waits for the reconciles in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.watches.stop();
    await this.queue.shutdown();
    this.deps.log.info("Stopped controller");
  }
}

// Prometheus metrics of the controller and the small HTTP server that serves them with /healthz.
// Stages of a run, each a histogram label: queue (key waiting for a worker), preflight,
// pod_created (the controller heard of the run → pod created), pod_started (pod created → container
// running), execution (the script's own duration), status_written (the controller heard the pod
// finished → final status written). operator/README.md says where each starts and ends.
import { type Server, createServer } from "node:http";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Logger } from "../core/log.js";
import { collectProcessMetrics } from "../core/processMetrics.js";

export type Stage = "queue" | "preflight" | "pod_created" | "pod_claimed" | "pod_started" | "execution" | "status_written";

export interface Metrics {
  registry: Registry;
  runsFinished: Counter<"outcome" | "error_type">;
  runsStarted: Counter<"start" | "runtime">;
  warmPodsReady: Gauge<"runtime" | "namespace">;
  stageSeconds: Histogram<"stage">;
  reconcileErrors: Counter;
  workqueueDepth: Gauge;
  runsQueued: Gauge;
  queuePosition: Histogram;
  runsActive: Gauge;
  leader: Gauge;
}

export function createMetrics(registry: Registry = new Registry()): Metrics {
  collectProcessMetrics(registry, "scriptrun_controller_");
  const registers = [registry];
  return {
    registry,
    runsFinished: new Counter({
      name: "scriptrun_runs_finished_total", help: "Runs finished, by outcome (succeeded|failed) and error type",
      labelNames: ["outcome", "error_type"], registers,
    }),
    runsStarted: new Counter({
      name: "scriptrun_runs_started_total",
      help: "Runs started, by runtime and how: warm (a pool pod claimed) or cold (a pod made for the run)",
      labelNames: ["start", "runtime"], registers,
    }),
    warmPodsReady: new Gauge({
      name: "scriptrun_warm_pods_ready", help: "Ready pods in each runtime's warm pool, by namespace", labelNames: ["runtime", "namespace"], registers,
    }),
    stageSeconds: new Histogram({
      name: "scriptrun_stage_duration_seconds", help: "Latency of each stage of a run",
      labelNames: ["stage"], registers,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    }),
    reconcileErrors: new Counter({ name: "scriptrun_reconcile_errors_total", help: "Reconciles that failed and were retried", registers }),
    workqueueDepth: new Gauge({ name: "scriptrun_workqueue_depth", help: "Keys waiting for a worker", registers }),
    runsQueued: new Gauge({ name: "scriptrun_runs_queued", help: "Runs waiting for capacity (phase Queued)", registers }),
    queuePosition: new Histogram({
      name: "scriptrun_queue_position", help: "Position a run was given when it began to wait for capacity (1: next)", registers,
      buckets: [1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000],
    }),
    runsActive: new Gauge({ name: "scriptrun_runs_active", help: "Runs holding one of the concurrency slots", registers }),
    leader: new Gauge({ name: "scriptrun_controller_is_leader", help: "1 while this replica holds the leader lease", registers }),
  };
}

export function observeStage(metrics: Metrics, stage: Stage, seconds: number): void {
  if (Number.isFinite(seconds) && seconds >= 0) metrics.stageSeconds.observe({ stage }, seconds);
}

/** Serves /metrics and /healthz; port 0 picks a free port (logged). */
export async function serveMetrics(metrics: Metrics, port: number, log: Logger): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (path === "/metrics") {
      metrics.registry.metrics().then(
        (body) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(body),
        (err: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(String(err)),
      );
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, () => resolve());
  });
  const address = server.address();
  log.info({ port: typeof address === "object" && address ? address.port : port }, "Started metrics server");
  return server;
}

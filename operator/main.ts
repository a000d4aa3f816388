// The controller process: `npx tsx operator/main.ts` (or `node dist/operator/main.js`). Reads its
// configuration (operator/README.md), serves /metrics and /healthz, stands for leader and runs the
// controller while it leads, and shuts down gracefully on SIGTERM or SIGINT.
import { KubeConfig } from "@kubernetes/client-node";
import { reuseConnections } from "../core/kube.js";
import { createLogger } from "../core/log.js";
import { PreflightClient } from "../core/preflight.js";
import { aborted, runMain, shutdownSignal } from "../core/process.js";
import { ConfigError, loadConfig } from "./config.js";
import { Controller } from "./controller.js";
import { LeaderElector } from "./leader.js";
import { createMetrics, serveMetrics } from "./metrics.js";

async function main(): Promise<void> {
  const config = loadConfig(process.env, process.argv.slice(2));
  const log = createLogger(config.logLevel);
  const stopping = shutdownSignal(log);
  // In a pod this reads the service account; on a workstation, KUBECONFIG or ~/.kube/config.
  const kc = new KubeConfig();
  kc.loadFromDefault();
  reuseConnections(kc);
  const metrics = createMetrics();
  const server = await serveMetrics(metrics, config.metricsPort, log);
  const preflight = new PreflightClient(config.preflight);
  log.info({ cluster: kc.getCurrentCluster()?.server, runnerPath: config.preflight.runnerPath,
    maxConcurrentRuns: config.maxConcurrentRuns, sandboxBackend: config.sandboxBackend }, "Started");

  const elector = config.leaderElection.enabled
    ? LeaderElector.forCluster(kc, config.leaderElection, log)
    : undefined;
  while (!stopping.aborted) {
    if (elector && !(await elector.acquire(stopping))) break;
    metrics.leader.set(1);
    const controller = new Controller({ kc, config, log, metrics, preflight });
    const holding = elector ? elector.hold(stopping) : aborted(stopping);
    await Promise.race([controller.start(), holding]);
    const ended = await holding;
    metrics.leader.set(0);
    await controller.stop();
    if (ended === "stopped") break;
    log.warn("Stopped the controller after losing leadership; standing again");
  }
  if (elector) await elector.release();
  await preflight.close();
  await new Promise((resolve) => server.close(resolve));
  log.info("Stopped");
}

runMain("controller", main, (err) => err instanceof ConfigError);

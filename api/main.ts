// The API process: `npx tsx api/main.ts` (or `node dist/api/main.js`). Reads its configuration
// (api/README.md), wires the real dependencies into createApp and listens. On SIGTERM or SIGINT
// it stops taking connections and new waits (/readyz answers 503), lets the waits in flight
// finish or answer (each is capped at SCRIPTRUN_API_MAX_WAIT_SECONDS), then exits.
import type { Server } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { KubeConfig } from "@kubernetes/client-node";
import { reuseConnections } from "../core/kube.js";
import { createLogger } from "../core/log.js";
import { PreflightClient } from "../core/preflight.js";
import { RuntimeCatalog } from "../core/runtimeCatalog.js";
import { aborted, runMain, shutdownSignal } from "../core/process.js";
import { createApp } from "./app.js";
import { type Auth, KubernetesAuth, NoAuth, kubeReviews } from "./auth.js";
import { ApiConfigError, loadApiConfig } from "./config.js";
import { apiRegistry } from "./metrics.js";
import { KubePodLogs } from "./podLogs.js";
import { KubeRunStore } from "./runStore.js";
import { Waiter } from "./waiter.js";

// Past the longest wait, a little time for the last answers to be written.
const SHUTDOWN_SLACK_MS = 5000;

function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  // In a pod: the service account; on a workstation: KUBECONFIG or ~/.kube/config.
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return reuseConnections(kc);
}

async function main(): Promise<void> {
  const config = loadApiConfig();
  const log = createLogger(config.logLevel, "scriptrun-api");
  const kc = loadKubeConfig(config.kubeconfig);
  const runs = new KubeRunStore(kc, { timeoutMs: config.clusterTimeoutMs, relistMs: config.relistSeconds * 1000, log });
  const waiter = new Waiter(runs, { maxWaits: config.maxConcurrentWaits, recheckMs: config.recheckSeconds * 1000,
    holdWhenFull: config.holdWhenFull, log });
  const stopping = shutdownSignal(log, () => ({ waitsInFlight: waiter.inFlight }));
  const preflight = new PreflightClient(config.preflight);
  const runtimes = new RuntimeCatalog(kc, log);
  const auth: Auth = config.auth === "none" ? new NoAuth() : new KubernetesAuth(kubeReviews(kc, config.clusterTimeoutMs), config.authCacheSeconds);
  if (auth.mode === "none") {
    log.warn({ auth: "none", host: config.host, port: config.port },
      "AUTHENTICATION IS OFF (SCRIPTRUN_API_AUTH=none): anyone who reaches this port can run code in the cluster. For local use only.");
  }
  const app = createApp({ runs, waiter, podLogs: new KubePodLogs(kc), preflight, runtimes, config, auth, registry: apiRegistry(), log });

  waiter.start();
  void runtimes.start();
  const relistRuntimes = setInterval(() => void runtimes.relist(), config.relistSeconds * 1000);
  relistRuntimes.unref();
  const server: Server = await new Promise((resolve, reject) => {
    const listening = app.listen(config.port, config.host, () => resolve(listening));
    listening.once("error", reject);
  });
  // A client gets this long to send a whole request; answers (waits) are bounded on their own.
  server.requestTimeout = config.requestTimeoutSeconds * 1000;
  server.headersTimeout = Math.min(server.requestTimeout, 60_000);
  const address = server.address();
  log.info({ address: typeof address === "object" && address ? `${address.address}:${address.port}` : address,
    cluster: kc.getCurrentCluster()?.server, auth: auth.mode, namespace: config.defaultNamespace, version: config.version }, "Started");

  await aborted(stopping);
  let isClosed = false;
  const closed = new Promise<void>((resolve) => server.close(() => resolve())).then(() => {
    isClosed = true;
  });
  server.closeIdleConnections();
  const drained = await waiter.drain(config.maxWaitSeconds * 1000 + SHUTDOWN_SLACK_MS);
  if (!drained) log.warn({ waitsInFlight: waiter.inFlight }, "Stopped with waits still in flight");
  // The last answers may still be on their way out: close each connection once it is idle, and
  // whatever is left after the slack.
  for (const cutoff = Date.now() + SHUTDOWN_SLACK_MS; !isClosed && Date.now() < cutoff; await sleep(100)) {
    server.closeIdleConnections();
  }
  server.closeAllConnections();
  await closed;
  await waiter.stop();
  clearInterval(relistRuntimes);
  await runtimes.stop();
  await preflight.close();
  log.info("Stopped");
}

runMain("API", main, (err) => err instanceof ApiConfigError);

// The service's own endpoints, open to anyone who can reach the port: liveness (/healthz, and
// /health for clients of older executors), readiness (/readyz: the cluster answers, the shared
// watch follows it, and the API is not shutting down), Prometheus metrics and the OpenAPI document.
import Router from "@koa/router";
import { ApiError, fromCluster } from "../errors.js";
import { openApiDocument } from "../openapi.js";
import { runtimeBounds } from "../schemas.js";
import type { ApiState, Services } from "../services.js";

export function serviceRouter(deps: Services): Router<ApiState> {
  const router = new Router<ApiState>();

  router.get("/healthz", (ctx) => {
    ctx.body = { status: "ok" };
  });

  router.get("/health", (ctx) => {
    ctx.body = { status: "ok", service: "scriptrun-api", version: deps.config.version };
  });

  router.get("/readyz", async (ctx) => {
    const notReady = (message: string) => new ApiError(503, "not_ready", message);
    if (!deps.waiter.accepting) throw notReady("The API is shutting down");
    try {
      await deps.runs.ping();
    } catch (err) {
      throw notReady(fromCluster(err)?.message ?? `The cluster did not answer: ${String(err)}`);
    }
    if (!deps.waiter.synced) throw notReady("The shared watch of ScriptRuns has not caught up with the cluster yet");
    if (!deps.runtimes.synced) throw notReady("The watch of ScriptRuntimes has not caught up with the cluster yet");
    ctx.body = { status: "ready" };
  });

  router.get("/metrics", async (ctx) => {
    ctx.type = deps.registry.contentType;
    ctx.body = await deps.registry.metrics();
  });

  // It names the runtimes there are now, so it follows them.
  router.get("/openapi.json", (ctx) => {
    ctx.body = openApiDocument(deps.config, runtimeBounds(deps.runtimes.list()));
  });

  return router;
}

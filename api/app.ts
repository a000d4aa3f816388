// The Koa app, built from its dependencies and nothing else, so tests drive it in process;
// main.ts wires the real ones and listens. Middleware order: errors first (every failure becomes
// the one JSON error shape), then the request id and access log, metrics, CORS when configured,
// the refusals of what pages of other sites send (crossSite.ts), and one router per resource (and
// the playground page's).
import { randomUUID } from "node:crypto";
import cors from "@koa/cors";
import Router from "@koa/router";
import Koa, { type Next, type ParameterizedContext } from "koa";
import type { Registry } from "prom-client";
import type { Logger } from "../core/log.js";
import { crossSiteWrites, listensOnLoopback, loopbackHostOnly } from "./crossSite.js";
import { afterAnswerErrors, errorHandler } from "./errors.js";
import { createMetrics, routeOf } from "./metrics.js";
import { executeRouter } from "./routes/execute.js";
import { playgroundRouter } from "./routes/playground.js";
import { runsRouter } from "./routes/runs.js";
import { runtimesRouter } from "./routes/runtimes.js";
import { serviceRouter } from "./routes/service.js";
import type { ApiState, AppDeps, Services } from "./services.js";

// Probes and scrapes are logged at debug, so the log shows requests, not the kubelet.
const QUIET_ROUTES = new Set(["/healthz", "/readyz", "/metrics"]);
const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** The caller's X-Request-Id when it is sane, else a new one; echoed back, and one log line per request. */
function requestContext(log: Logger) {
  return async function requestId(ctx: ParameterizedContext<ApiState>, next: Next): Promise<void> {
    const given = ctx.get("X-Request-Id");
    const id = REQUEST_ID.test(given) ? given : randomUUID();
    ctx.state.requestId = id;
    ctx.set("X-Request-Id", id);
    const started = performance.now();
    ctx.res.once("close", () => {
      const route = routeOf(ctx);
      const fields = { requestId: id, method: ctx.method, route, status: ctx.res.statusCode, ms: Math.round(performance.now() - started) };
      if (QUIET_ROUTES.has(route)) log.debug(fields, "Answered request");
      else log.info(fields, "Answered request");
    });
    await next();
  };
}

function corsFor(origins: string[]) {
  const any = origins.includes("*");
  return cors({
    origin: (ctx) => (any ? "*" : origins.includes(ctx.get("Origin")) ? ctx.get("Origin") : ""),
    allowMethods: ["GET", "POST", "DELETE"],
    allowHeaders: ["Authorization", "Content-Type", "X-Request-Id", "Idempotency-Key"],
    exposeHeaders: ["X-Request-Id", "Retry-After", "Location", "Idempotent-Replayed"],
    maxAge: 600,
  });
}

export function createApp(deps: AppDeps): Koa<ApiState> {
  const services: Services = { ...deps, metrics: createMetrics(deps.registry, deps.waiter, deps.config.maxConcurrentWaits) };
  const app = new Koa<ApiState>();
  app.on("error", afterAnswerErrors(deps.log));
  app.use(errorHandler(deps.log, deps.config.maxBodyBytes));
  app.use(requestContext(deps.log));
  app.use(services.metrics.observe);
  if (deps.config.corsOrigins.length > 0) app.use(corsFor(deps.config.corsOrigins));
  app.use(crossSiteWrites(deps.config.corsOrigins));
  if (deps.auth.mode === "none" && listensOnLoopback(deps.config.host)) app.use(loopbackHostOnly());
  const root = new Router<ApiState>();
  for (const router of [serviceRouter(services), executeRouter(services), runsRouter(services), runtimesRouter(services), playgroundRouter(services)]) {
    root.use(router.routes());
  }
  app.use(root.routes());
  // 405 with Allow for a known path and another method; the error middleware gives it a body.
  app.use(root.allowedMethods());
  return app;
}

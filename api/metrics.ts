// Prometheus metrics of the API: requests by route and status with their latency, waits and
// streams in flight (and the cap), and how long preflight checks take. Observed when the
// response is finished, so the status counted is the one sent, whichever middleware set it.
import type { Context, Next } from "koa";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { collectProcessMetrics } from "../core/processMetrics.js";
import type { Waiter } from "./waiter.js";

export interface ApiMetrics {
  /** Koa middleware that counts and times every request. */
  observe: (ctx: Context, next: Next) => Promise<void>;
  preflightSeconds: Histogram<"outcome">;
}

/** The route pattern @koa/router matched (e.g. /runs/:name), so labels stay few. */
export function routeOf(ctx: Context): string {
  const matched = (ctx as Context & { _matchedRoute?: string | RegExp })._matchedRoute;
  return matched === undefined ? "unmatched" : String(matched);
}

/** The registry GET /metrics serves, with the Node.js process metrics (prefixed scriptrun_api_);
 * createMetrics adds the API's own. */
export function apiRegistry(): Registry {
  const registry = new Registry();
  collectProcessMetrics(registry, "scriptrun_api_");
  return registry;
}

export function createMetrics(registry: Registry, waiter: Waiter, maxWaits: number): ApiMetrics {
  const registers = [registry];
  const labelNames = ["method", "route", "status"] as const;
  const requests = new Counter({ name: "scriptrun_api_requests_total", help: "HTTP requests answered, by route and status", labelNames, registers });
  const seconds = new Histogram({
    name: "scriptrun_api_request_duration_seconds", help: "Time to answer an HTTP request (for event streams: how long they stayed open)",
    labelNames, registers, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  });
  new Gauge({
    name: "scriptrun_api_waits_in_flight", help: "Requests waiting for a run to finish, and event streams, right now", registers,
    collect() {
      this.set(waiter.inFlight);
    },
  });
  new Gauge({ name: "scriptrun_api_waits_max", help: "The cap on waits in flight; past it requests are answered 429", registers }).set(maxWaits);
  const preflightSeconds = new Histogram({
    name: "scriptrun_api_preflight_duration_seconds", help: "Time of one preflight check by the harness, by outcome (ok|refused)",
    labelNames: ["outcome"], registers, buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
  });
  new Gauge({
    name: "scriptrun_api_runs_pending", help: "ScriptRuns created and not finished, as the shared watch sees them", registers,
    collect() {
      this.set(waiter.capacity.pending);
    },
  });
  const refused = new Counter({
    name: "scriptrun_api_refused_over_capacity_total", registers, labelNames: ["when"],
    help: "/execute calls answered 429 because the runs ahead could not finish within their wait, on arrival or while held (when=arrival|held)",
  });
  waiter.admission.onRefused = (when) => refused.inc({ when });
  new Gauge({
    name: "scriptrun_api_execute_held", help: "/execute calls held for runs ahead to finish, with no run created yet", registers,
    collect() {
      this.set(waiter.admission.holding);
    },
  });
  return {
    preflightSeconds,
    async observe(ctx, next) {
      const end = seconds.startTimer();
      ctx.res.once("close", () => {
        const labels = { method: ctx.method, route: routeOf(ctx), status: String(ctx.res.statusCode) };
        requests.inc(labels);
        end(labels);
      });
      await next();
    },
  };
}

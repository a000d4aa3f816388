// What the routes and the run service are given: the API's dependencies, the metrics registered
// for them, and what the middleware leaves in each request's ctx.state.
import type { Registry } from "prom-client";
import type { Logger } from "../core/log.js";
import type { PreflightClient } from "../core/preflight.js";
import type { Runtimes } from "../core/runtimeCatalog.js";
import type { Auth, Identity } from "./auth.js";
import type { ApiConfig } from "./config.js";
import type { ApiMetrics } from "./metrics.js";
import type { PodLogs } from "./podLogs.js";
import type { RunStore } from "./runStore.js";
import type { Waiter } from "./waiter.js";

export interface AppDeps {
  runs: RunStore;
  /** The shared watch every waiting request and event stream subscribes to (built over `runs`). */
  waiter: Waiter;
  /** Running runners' logs, for live output on the event stream. */
  podLogs: PodLogs;
  /** The harness's preflight checker (core/preflight.ts). */
  preflight: Pick<PreflightClient, "check">;
  /** The ScriptRuntimes runs are judged against, as the controller will judge them. */
  runtimes: Runtimes;
  config: ApiConfig;
  auth: Auth;
  /** Where the API's metrics are registered, and what GET /metrics serves. */
  registry: Registry;
  log: Logger;
}

/** What the routes use: the dependencies and the metrics registered for them. */
export type Services = AppDeps & { metrics: ApiMetrics };

/** ctx.state of every request: its id (set first), and the caller once a route's auth has run. */
export interface ApiState {
  requestId: string;
  identity: Identity;
}

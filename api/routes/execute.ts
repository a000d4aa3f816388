// POST /execute: run a script and answer with its outcome once it finished. The drop-in aliases
// of older single-host executors go the same way: POST /scripts (mode script) and POST /params
// (the script's last line names the function to call with params).
import Router from "@koa/router";
import type { Services } from "../app.js";
import { authenticated } from "../auth.js";
import { readRunBody } from "../body.js";
import { runAndWait } from "../execution.js";
import type { Route } from "../schemas.js";

export function executeRouter(deps: Services): Router {
  const router = new Router();
  const before = [authenticated(deps.auth), ...readRunBody(deps.config.maxBodyBytes)];
  for (const route of ["execute", "scripts", "params"] as const satisfies Route[]) {
    router.post(`/${route}`, ...before, (ctx) => runAndWait(ctx, deps, route));
  }
  return router;
}

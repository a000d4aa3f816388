// POST /execute: run a script and answer with its outcome once it finished. The drop-in aliases
// of older single-host executors go the same way: POST /scripts (mode script) and POST /params
// (the script's last line names the function to call with params).
import Router from "@koa/router";
import { authenticated } from "../auth.js";
import { readRunBody } from "../body.js";
import { idempotencyKeyOf } from "../idempotency.js";
import { parseRunRequest, runAndWait } from "../runService.js";
import type { Route } from "../schemas.js";
import type { ApiState, Services } from "../services.js";

export function executeRouter(deps: Services): Router<ApiState> {
  const router = new Router<ApiState>();
  const before = [authenticated(deps.auth), ...readRunBody(deps.config.maxBodyBytes)];
  for (const route of ["execute", "scripts", "params"] as const satisfies Route[]) {
    router.post(`/${route}`, ...before, async (ctx) => {
      const request = parseRunRequest(ctx.request.body, route, deps);
      // The client hanging up ends the wait (and frees its slot); the run itself goes on.
      const hungUp = new AbortController();
      ctx.res.once("close", () => hungUp.abort());
      ctx.body = await runAndWait(deps, ctx.state.identity, request, hungUp.signal, idempotencyKeyOf(ctx.headers));
    });
  }
  return router;
}

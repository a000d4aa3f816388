// The runs resource: POST /runs (create, answer 202 at once), GET /runs (paged), GET /runs/:name,
// DELETE /runs/:name (cancel) and GET /runs/:name/events (Server-Sent Events). The namespace of
// a read comes from ?namespace=, else the configured default.
//
// POST /runs skips the API's preflight: the run is created whatever its script, and the
// controller's own preflight fails a bad one without a pod, so GET /runs/:name always tells.
//
// An Idempotency-Key header makes a retry of POST /runs (and /execute) return the first attempt's
// run rather than start a second one (idempotency.ts).
//
// Cancelling marks the run with the scriptrun.dev/cancel-requested annotation (a merge patch);
// the controller sees it, stops the pod and fails the run with error type `cancelled`. The
// ScriptRun is kept, so its outcome can still be read. The run may finish between its read and
// the patch, so the patch holds to the version read: a run changed meanwhile is read again.
import Router, { type RouterContext } from "@koa/router";
import { z } from "zod";
import { type Verb, authenticated } from "../auth.js";
import { readRunBody } from "../body.js";
import { ApiError, notFound, parseQuery } from "../errors.js";
import { idempotencyKeyOf } from "../idempotency.js";
import { admit, createRun, parseRunRequest, runIdentity } from "../runService.js";
import { cancelRun } from "../runStore.js";
import { ListQuerySchema, NamespaceQuerySchema, RunNameSchema } from "../schemas.js";
import type { ApiState, Services } from "../services.js";
import { streamRunEvents } from "../sse.js";
import { runSummary, runView } from "../views.js";

/** The run a request names, once the caller may `verb` it. */
async function target(ctx: RouterContext<ApiState>, deps: Services, verb: Verb): Promise<{ namespace: string; name: string }> {
  const { name } = z.object({ name: RunNameSchema }).parse(ctx.params);
  const namespace = parseQuery(NamespaceQuerySchema, ctx.query).namespace ?? deps.config.defaultNamespace;
  await deps.auth.authorize(ctx.state.identity, verb, namespace);
  return { namespace, name };
}

const noSuchRun = (name: string, namespace: string) => notFound(`No run ${name} in namespace ${namespace}`, { name, namespace });

export function runsRouter(deps: Services): Router<ApiState> {
  const router = new Router<ApiState>({ prefix: "/runs" });
  router.use(authenticated(deps.auth));

  router.post("/", ...readRunBody(deps.config.maxBodyBytes), async (ctx) => {
    const { identity } = ctx.state;
    const request = parseRunRequest(ctx.request.body, "runs", deps);
    await admit(deps, identity, request);
    const { name, key } = runIdentity(identity, request, idempotencyKeyOf(ctx.headers));
    const { reused } = await createRun(deps, identity, request, name, key);
    // A retry with the same Idempotency-Key gets the first attempt's run.
    if (reused) ctx.set("Idempotent-Replayed", "true");
    ctx.status = 202;
    ctx.set("Location", `/runs/${name}?namespace=${request.namespace}`);
    ctx.body = { name, namespace: request.namespace };
  });

  router.get("/", async (ctx) => {
    const query = parseQuery(ListQuerySchema, ctx.query);
    const namespace = query.namespace ?? deps.config.defaultNamespace;
    await deps.auth.authorize(ctx.state.identity, "list", namespace);
    const page = await deps.runs.list(namespace, { limit: query.limit, ...(query.continue !== undefined ? { continue: query.continue } : {}) });
    ctx.body = { items: page.items.map(runSummary), continue: page.continue ?? null };
  });

  router.get("/:name", async (ctx) => {
    const { namespace, name } = await target(ctx, deps, "get");
    const run = await deps.runs.get(namespace, name);
    if (!run) throw noSuchRun(name, namespace);
    ctx.body = runView(run);
  });

  router.delete("/:name", async (ctx) => {
    const { namespace, name } = await target(ctx, deps, "delete");
    const answer = await cancelRun(deps.runs, namespace, name);
    if (answer.kind === "missing") throw noSuchRun(name, namespace);
    if (answer.kind === "finished") {
      throw new ApiError(409, "conflict", `Run ${name} already finished (${answer.run.status?.phase}); there is nothing to cancel`, { name, namespace });
    }
    if (answer.kind === "changing") throw new ApiError(409, "conflict", `Run ${name} changed each time it was about to be cancelled; retry`, { name, namespace });
    ctx.status = 202;
    ctx.body = { name, namespace };
  });

  router.get("/:name/events", async (ctx) => {
    const { namespace, name } = await target(ctx, deps, "get");
    await streamRunEvents(ctx, deps, namespace, name);
  });

  return router;
}

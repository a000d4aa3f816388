// GET /runtimes: the ScriptRuntimes a run in a namespace (?namespace=, else the default) may use,
// with their limits, so that a client (the playground page) offers only what the API would accept.
// A caller sees them once it may create runs there: which runtimes a namespace may use is part of
// what running code there means.
import Router from "@koa/router";
import { isDefault } from "../../core/runtime.js";
import { authenticated } from "../auth.js";
import { parseQuery } from "../errors.js";
import { NamespaceQuerySchema, type RuntimeList } from "../schemas.js";
import type { ApiState, Services } from "../services.js";

export function runtimesRouter(deps: Services): Router<ApiState> {
  const router = new Router<ApiState>();

  router.get("/runtimes", authenticated(deps.auth), async (ctx) => {
    const namespace = parseQuery(NamespaceQuerySchema, ctx.query).namespace ?? deps.config.defaultNamespace;
    await deps.auth.authorize(ctx.state.identity, "create", namespace);
    const items: RuntimeList["items"] = [];
    for (const runtime of deps.runtimes.list()) {
      // The same judgement a run naming it gets: usable spec, namespaceSelector matching.
      const choice = await deps.runtimes.choose(runtime.metadata.name ?? "", namespace);
      if (!choice.ok) continue;
      const { name, spec } = choice.runtime;
      items.push({ name, default: isDefault(runtime), image: spec.image, modules: spec.modules ?? [], defaults: spec.defaults, maxima: spec.maxima });
    }
    items.sort((a, b) => a.name.localeCompare(b.name));
    const body: RuntimeList = { namespace, items };
    ctx.body = body;
  });

  return router;
}

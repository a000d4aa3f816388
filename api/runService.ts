// The run service, free of HTTP: from a validated request to a ScriptRun. Authorise it, hold it to
// its runtime's limits, check it with the harness's preflight (CPython's own parser, through
// core/preflight.ts), create the ScriptRun and, for /execute and its aliases, wait for it on the
// shared watch. The routes parse, call these and answer; failures are ApiErrors.
//
// A script that preflight refuses (syntax error, missing entrypoint, disallowed import, invalid
// input) is answered at once with 200 and success false, and nothing is created: no ScriptRun and
// no pod. The controller would fail such a run without a pod anyway; answering without the two
// round trips to the apiserver is what keeps these answers in milliseconds. Such an answer has
// `name: null`, as there is no run to fetch later.
import { type RunnerRequest, resolveRequest } from "../core/request.js";
import { runKey } from "../core/runs.js";
import { runtimeLimits } from "../core/runtime.js";
import { API_VERSION, KIND, type RunError, type ScriptRun, isFinished } from "../crds/schema.js";
import { overCapacity } from "./admission.js";
import type { Identity } from "./auth.js";
import { ApiError, RETRY_AFTER_SECONDS, fromCluster, invalid, mayHaveLanded, namespaceMissing, unavailable } from "./errors.js";
import { IDEMPOTENCY_ANNOTATION, IDEMPOTENCY_HEADER, type Idempotency, assertSameRequest, idempotency } from "./idempotency.js";
import { newRunName } from "./runNames.js";
import { CREATED_BY_LABEL } from "./runStore.js";
import { type Outcome, type Route, type RunRequest, runtimeBounds, schemasFor, toRunRequest } from "./schemas.js";
import type { Services } from "./services.js";
import { outcomeOf, refusedOutcome } from "./views.js";

/** Annotation naming who asked the API for the run (when callers are authenticated). */
export const REQUESTED_BY_ANNOTATION = "scriptrun.dev/requested-by";

/** The body of a `route` request, validated (ZodError: 400, or 413 for a large script). */
export function parseRunRequest(body: unknown, route: Route, deps: Services): RunRequest {
  return toRunRequest(schemasFor(deps.config, runtimeBounds(deps.runtimes.list()))[route].parse(body), route, deps.config);
}

/** The field a refusal of resolveRequest names first (`resources.memory 3Gi exceeds ...`), as an
 * issue's path; none for one about the request as a whole. */
function fieldOf(reason: string): string[] {
  const field = /^(script|args|kwargs|timeoutSeconds|resources\.(?:cpu|memory)|limits\.(?:pids|outputBytes))\b/.exec(reason)?.[1];
  return field ? field.split(".") : [];
}

/** 403 unless the caller may create runs there; 400 for a runtime the run may not have, or a run
 * asking more than its runtime allows. */
export async function admit(deps: Services, identity: Identity, request: RunRequest): Promise<RunnerRequest> {
  await deps.auth.authorize(identity, "create", request.namespace);
  const choice = await deps.runtimes.choose(request.spec.runtime, request.namespace);
  if (!choice.ok) throw invalid(choice.reason, [{ path: ["runtime"], message: choice.reason }]);
  const resolved = resolveRequest(request.spec, runtimeLimits(choice.runtime, deps.config.maxScriptBytes));
  if (!resolved.ok) throw invalid(resolved.reasons.join("; "), resolved.reasons.map((message) => ({ path: fieldOf(message), message })));
  return resolved.request;
}

/** Why preflight refuses the request, or undefined when it may run. */
async function preflight(deps: Services, request: RunnerRequest): Promise<RunError | undefined> {
  const end = deps.metrics.preflightSeconds.startTimer();
  const answer = await deps.preflight.check(request);
  end({ outcome: answer.ok ? "ok" : "refused" });
  return answer.ok ? undefined : answer.error;
}

/** The run a create whose answer never came made, if it made one. The name is this request's own
 * (60 random bits, or derived from its Idempotency-Key), so a run of that name is its run. When
 * none is found the run may still appear (the apiserver may be finishing the write), and the 503
 * names it: a retry without an Idempotency-Key could otherwise run the script twice. */
async function findLanded(deps: Services, namespace: string, name: string, err: unknown): Promise<ScriptRun> {
  const found = await deps.runs.get(namespace, name).catch(() => undefined);
  if (found) return found;
  const why = fromCluster(err)?.message ?? String(err);
  throw unavailable(`${why}, and run ${name} may have been created all the same: ` +
    `GET /runs/${name}?namespace=${namespace} tells; a retry with an ${IDEMPOTENCY_HEADER} header cannot run it twice`, { name, namespace });
}

/** Creates the run named `name`, or with an Idempotency-Key finds the one a first attempt created;
 * a random name already taken is a fluke answered 409. `reused` says a retry found its run. A
 * create that may have landed though its answer was lost is looked for by name. */
export async function createRun(deps: Services, identity: Identity, request: RunRequest, name: string,
  key?: { key: string; idem: Idempotency }): Promise<{ run: ScriptRun; reused: boolean }> {
  const annotations = {
    ...(deps.auth.mode === "kubernetes" ? { [REQUESTED_BY_ANNOTATION]: identity.user.username } : {}),
    ...(key ? { [IDEMPOTENCY_ANNOTATION]: key.idem.mark } : {}),
  };
  let created: ScriptRun | "exists";
  try {
    created = await deps.runs.create({
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: {
        name,
        namespace: request.namespace,
        labels: { [CREATED_BY_LABEL]: "api" },
        ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
      },
      spec: request.spec,
    });
  } catch (err) {
    if (namespaceMissing(err)) {
      const why = `Namespace ${request.namespace} does not exist`;
      throw invalid(why, [{ path: ["namespace"], message: why }]);
    }
    if (!mayHaveLanded(err)) throw err;
    const landed = await findLanded(deps, request.namespace, name, err);
    // Under a key the run found may be an earlier attempt's, finished long ago: answer it as a retry.
    if (!key) return { run: landed, reused: false };
    assertSameRequest(landed, key.idem, key.key);
    return { run: landed, reused: true };
  }
  if (created !== "exists") return { run: created, reused: false };
  const found = key && await deps.runs.get(request.namespace, name);
  if (!key || !found) throw new ApiError(409, "conflict", `A run named ${name} already exists; retry`, { name, namespace: request.namespace });
  assertSameRequest(found, key.idem, key.key);
  return { run: found, reused: true };
}

/** The run's name and, with an Idempotency-Key, what makes a retry find the same run. */
export function runIdentity(identity: Identity, request: RunRequest, key: string | undefined): { name: string; key?: { key: string; idem: Idempotency } } {
  const idem = idempotency(key, request.namespace, identity.user.username, request.spec);
  return idem && key ? { name: idem.name, key: { key, idem } } : { name: newRunName() };
}

/** POST /execute and its aliases: run the script and resolve its outcome. `signal` aborts the
 * wait (the client hung up); the run itself goes on. With an Idempotency-Key (`key`), a retry
 * answers with the first attempt's run, waiting for it if it has not finished. */
export async function runAndWait(deps: Services, identity: Identity, request: RunRequest, signal: AbortSignal,
  key?: string): Promise<Outcome> {
  const arrived = Date.now();
  const resolved = await admit(deps, identity, request);
  const { name, key: idem } = runIdentity(identity, request, key);
  // A retry of a run that exists adds no load. Admission comes before preflight (which queues under
  // load): a refusal comes at once, or while the call is held for the runs ahead (admission.ts).
  const release = idem && await deps.runs.get(request.namespace, name)
    ? deps.waiter.reserve()
    : await deps.waiter.admission.enter(runKey(request.namespace, name), request.waitSeconds, signal, arrived);
  try {
    const refusal = await preflight(deps, resolved);
    if (refusal) return refusedOutcome(request.namespace, refusal);
    const at = { name, namespace: request.namespace };
    // The wait counts from the call's arrival: a call held for the runs ahead has that much less
    // left. With none left, no run is made that no one would wait for.
    const left = arrived + request.waitSeconds * 1000 - Date.now();
    if (left <= 0) {
      throw overCapacity(`The ${request.waitSeconds} s wait ran out before a run could be made for it; nothing was created`,
        RETRY_AFTER_SECONDS);
    }
    // Watch before creating, so the run cannot finish unseen.
    const stop = new AbortController();
    const wait = deps.waiter.waitFor(at.namespace, at.name, left, AbortSignal.any([signal, stop.signal]));
    try {
      const { run, reused } = await createRun(deps, identity, request, at.name, idem);
      if (reused) {
        // A retry's run may have finished long ago, or may change no more before it is deleted.
        if (isFinished(run.status?.phase)) {
          stop.abort();
          return outcomeOf(run);
        }
        wait.exists();
      }
      wait.follows(run);
    } catch (err) {
      stop.abort();
      throw err;
    }
    const result = await wait.result;
    switch (result.kind) {
      case "finished":
        return outcomeOf(result.run);
      case "timeout":
        throw new ApiError(504, "wait_timeout", `Run ${at.name} did not finish within ${request.waitSeconds} s; ` +
          `GET /runs/${at.name}?namespace=${at.namespace} fetches it later`, at);
      case "deleted":
        throw new ApiError(410, "run_deleted", `Run ${at.name} was deleted before it finished`, at);
      case "aborted":
        throw new ApiError(499, "client_closed", "The client closed the connection before the run finished", at);
    }
  } finally {
    release();
  }
}

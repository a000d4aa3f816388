// What the API accepts and answers, as zod schemas derived from the ScriptRun spec schema
// (crds/schema.ts); they validate requests and generate /openapi.json, and turn a validated body
// into the run it asks for (with the `params` convention of params.ts). What a run may ask for
// depends on its runtime: the schemas hold it to the most any runtime allows, and the document
// names the runtimes there are, so they follow the runtimes (built again when those change); the
// run service then holds each run to its own runtime's limits, and refuses a runtime that does
// not exist.
import { z } from "zod";
import { parseQuantity } from "../core/quantity.js";
import { scriptTooLarge } from "../core/request.js";
import { parseRuntime } from "../core/runtime.js";
import { BUILTIN_MAXIMA, type ScriptRuntime } from "../crds/runtime.js";
import { jsonObject, PHASES, RunErrorSchema, type ScriptRunSpecInput, ScriptRunSpecSchema } from "../crds/schema.js";
import { type ApiConfig, NAMESPACE } from "./config.js";
import { applyParams, splitCallee } from "./params.js";
import { cpuPattern, memoryPattern } from "./quantityPatterns.js";

export type Route = "execute" | "scripts" | "params" | "runs";

export interface RunRequest {
  namespace: string;
  /** How long /execute and its aliases wait for the run to finish. */
  waitSeconds: number;
  spec: ScriptRunSpecInput;
}

const spec = ScriptRunSpecSchema.shape;
const described = <T extends z.ZodType>(schema: T, from: z.ZodType): T => schema.describe(from.description ?? "");

const Params = z.union([z.array(z.unknown()), jsonObject()])
  .describe("Arguments for the function the script's last line names (or the entrypoint): an object gives keyword arguments, an array positional ones. "
    + "A number a double would change is refused (JSON readers in JavaScript read numbers as doubles): an integer one does not hold exactly, as most beyond ±(2^53 - 1), or one beyond ±1.8e308; send it as a string.");

/** The runtimes as the schemas see them: their names, and the most any of them allows. */
export interface RuntimeBounds {
  names: string[];
  timeoutSeconds: number;
  cpu: string;
  memory: string;
}

/** The bounds of the usable runtimes (the built-in maxima when there are none). */
export function runtimeBounds(runtimes: readonly ScriptRuntime[]): RuntimeBounds {
  const usable = runtimes.map(parseRuntime).flatMap((p) => (p.ok ? [p.runtime] : []));
  const maxima = usable.length > 0 ? usable.map((r) => r.spec.maxima) : [BUILTIN_MAXIMA];
  const largest = <T extends string | number>(values: T[]): T =>
    values.reduce((a, b) => (parseQuantity(String(b)) > parseQuantity(String(a)) ? b : a));
  return {
    names: usable.map((r) => r.name).sort(),
    timeoutSeconds: largest(maxima.map((m) => m.timeoutSeconds)),
    cpu: largest(maxima.map((m) => m.cpu)),
    memory: largest(maxima.map((m) => m.memory)),
  };
}

/** resources as the API takes it; the document names the quantities within the runtimes' maxima. */
function resourcesSchema(bounds: RuntimeBounds) {
  const { cpu, memory } = spec.resources.unwrap().shape;
  return spec.resources.unwrap().extend({
    cpu: cpu.meta({ pattern: cpuPattern(bounds.cpu),
      description: `CPU for the run: millicores (e.g. 500m) or whole cores, at most ${bounds.cpu} (at most its runtime's maximum); the runtime's default when absent.` }),
    memory: memory.meta({ pattern: memoryPattern(bounds.memory),
      description: `Memory for the script in Mi or Gi (e.g. 256Mi), from 1Mi to ${bounds.memory} (at most its runtime's maximum); the runtime's default when absent.` }),
  }).strict().optional();
}

/** Every field a run request may carry; each route accepts a subset. */
function baseSchema(config: ApiConfig, bounds: RuntimeBounds) {
  const maxTimeout = bounds.timeoutSeconds;
  // Any name here: the runtimes known are a cache, which lacks one created a moment ago, and the
  // run service's admission reads such a runtime before it refuses a name. The document lists them.
  const runtime = spec.runtime.unwrap().meta(bounds.names.length > 0 ? { enum: bounds.names } : {});
  return ScriptRunSpecSchema.pick({ args: true, kwargs: true, stdin: true }).extend({
    // The most a runtime allows, so that the document says it too (the run's own runtime holds it again).
    timeoutSeconds: described(z.int().min(1).max(maxTimeout, { error: (i) => `timeoutSeconds ${String(i.input)} exceeds the maximum of ${maxTimeout} of every runtime` })
      .optional(), spec.timeoutSeconds),
    runtime: runtime.optional().describe("The ScriptRuntime to run on (kubectl get scriptruntimes lists them); the default runtime when absent."),
    script: spec.script.optional(),
    code: spec.script.optional().describe("Plain code, as clients of code-execution services send it: the same as script, but "
      + "without mode (and without params, entrypoint, args or kwargs) it runs top to bottom in mode script. Give script or code."),
    // Unknown keys inside resources are refused too, not dropped.
    resources: described(resourcesSchema(bounds), spec.resources.unwrap()),
    // Without their defaults, so that the params convention can tell what the caller chose.
    mode: described(spec.mode.unwrap().optional(), spec.mode),
    entrypoint: described(spec.entrypoint.unwrap().optional(), spec.entrypoint),
    params: Params.optional(),
    namespace: z.string().regex(NAMESPACE).max(63).optional()
      .describe(`Namespace of the run; ${config.defaultNamespace} when absent.`),
    waitSeconds: z.int().min(1).max(config.maxWaitSeconds).optional()
      .describe(`How long to wait for the run to finish (at most ${config.maxWaitSeconds}, the default); past it the answer is 504 naming the run.`),
  }).strict();
}

type Body = Partial<z.output<ReturnType<typeof baseSchema>>>;

/** Checks that span fields: one script, within the operator's size cap, and a coherent params call. */
function crossChecks(maxScriptBytes: number) {
  return (body: Body, ctx: z.RefinementCtx) => {
    const issue = (path: string[], message: string) => ctx.addIssue({ code: "custom", path, message });
    if (body.script === undefined && body.code === undefined) issue(["script"], "script is required (or code, its alias)");
    if (body.script !== undefined && body.code !== undefined) issue(["code"], "give script or code, not both");
    for (const field of ["script", "code"] as const) {
      const tooLarge = scriptTooLarge(body[field] ?? "", maxScriptBytes, field);
      if (tooLarge) ctx.addIssue({ code: "too_big", origin: "string", maximum: maxScriptBytes, inclusive: true, path: [field], message: tooLarge });
    }
    const callsFunction = (["params", "entrypoint", "args", "kwargs"] as const).filter((f) => body[f] !== undefined);
    if (body.code !== undefined && body.mode === undefined && body.params === undefined && callsFunction.length > 0) {
      issue(["mode"], `code without mode runs as a plain script, which takes no ${callsFunction.join(" or ")}; set mode to function`);
    }
    if (body.params === undefined) return;
    if (body.mode === "script") issue(["params"], "params calls a function; it cannot be used with mode script");
    if (body.args !== undefined || body.kwargs !== undefined) issue(["params"], "give params or args/kwargs, not both");
    const callee = splitCallee(body.script ?? body.code ?? "");
    if (callee && body.entrypoint !== undefined && body.entrypoint !== callee.name) {
      issue(["entrypoint"], `the script's last line names ${callee.name}, but entrypoint is ${body.entrypoint}`);
    }
  };
}

type Json = Record<string, unknown>;

/** A script that ends with a line naming a function (what splitCallee finds, and a little more:
 * keywords too, and some Unicode spaces JavaScript does not count), as a JSON Schema pattern. */
const ENDS_WITH_CALLEE = "(^|\\n)[A-Za-z_][A-Za-z0-9_]*[\\s\\ufeff]*$";

/**
 * crossChecks as JSON Schema, for the document: OpenAPI 3.0 has no if/then, so each rule is an
 * anyOf of the ways to keep it. `fields` are the fields the route takes; `scripts` the fields that
 * carry the script (a form adds its `file`, so among the fields); `paramsAlways` when params has a default (POST /params).
 * Where a rule depends on what the script says (params with an entrypoint), the document asks for
 * a little more than the API does, so that what it calls valid always is.
 */
export function crossRules(fields: readonly string[], scripts: readonly string[], paramsAlways = false): Json[] {
  const takes = (f: string) => fields.includes(f);
  const has = (f: string): Json => ({ required: [f] });
  const lacks = (f: string): Json => ({ not: has(f) });
  const anyOf = (...ways: Json[]): Json => (ways.length === 1 ? ways[0]! : { anyOf: ways });
  const noParams = takes("params") && !paramsAlways ? [lacks("params")] : [];
  const rules: Json[] = [{ oneOf: scripts.map(has) }];
  const calls = (["entrypoint", "args", "kwargs"] as const).filter(takes);
  if (takes("code") && calls.length > 0 && !paramsAlways) {
    // code without mode (or params) runs as a plain script, which takes no entrypoint, args or kwargs.
    rules.push(anyOf(lacks("code"), ...(takes("mode") ? [has("mode")] : []), ...(takes("params") ? [has("params")] : []),
      { not: anyOf(...calls.map(has)) }));
  }
  if (takes("params")) {
    const conflicts = [
      ...(takes("mode") ? [{ required: ["mode"], properties: { mode: { enum: ["script"] } } }] : []),
      ...(["args", "kwargs"] as const).filter(takes).map(has),
    ];
    // params calls a function: not in mode script, and not besides args or kwargs.
    if (conflicts.length > 0) rules.push(anyOf(...noParams, { not: anyOf(...conflicts) }));
    if (takes("entrypoint")) {
      // With params, an entrypoint must agree with the function the script's last line names:
      // the document asks for a script whose last line names none (and a file it cannot read is not one).
      const text = scripts.filter((f) => f !== "file");
      rules.push(anyOf(...noParams, lacks("entrypoint"), {
        properties: Object.fromEntries(text.map((f) => [f, { not: { pattern: ENDS_WITH_CALLEE } }])),
        ...(scripts.includes("file") ? { not: has("file") } : {}),
      }));
    }
  }
  return rules;
}

/** The request schema of each route, for the given configuration and runtimes. */
function requestSchemas(config: ApiConfig, bounds: RuntimeBounds) {
  const base = baseSchema(config, bounds);
  const check = crossChecks(config.maxScriptBytes);
  // The checks zod runs (superRefine) and what the document says of them (allOf) side by side.
  const refined = <T extends z.ZodObject>(schema: T, paramsAlways = false) =>
    schema.superRefine(check).meta({ allOf: crossRules(Object.keys(schema.shape), ["script", "code"], paramsAlways) });
  return {
    execute: refined(base)
      .describe("A script to run and wait for. multipart/form-data with the script as a `file` part also works."),
    scripts: refined(base.omit({ mode: true, entrypoint: true, args: true, kwargs: true, params: true }))
      .describe("A script run top to bottom as __main__ (mode script); its output is stdout."),
    params: refined(base.omit({ mode: true, args: true, kwargs: true }).extend({ params: Params.default({}) }), true)
      .describe("A script whose last line names the function to call with params."),
    runs: refined(base.omit({ waitSeconds: true }))
      .describe("A script to run without waiting; the answer names the run."),
  };
}

const built = new WeakMap<ApiConfig, { key: string; schemas: ReturnType<typeof requestSchemas> }>();

/** requestSchemas(config, bounds), built again only when the bounds change. */
export function schemasFor(config: ApiConfig, bounds: RuntimeBounds): ReturnType<typeof requestSchemas> {
  const key = JSON.stringify(bounds);
  let entry = built.get(config);
  if (entry?.key !== key) built.set(config, (entry = { key, schemas: requestSchemas(config, bounds) }));
  return entry.schemas;
}

export const ListQuerySchema = z.strictObject({
  namespace: z.string().regex(NAMESPACE).max(63).optional().describe("Namespace to list; the API's default when absent."),
  limit: z.coerce.number().int().min(1).max(500).default(50).describe("Most runs in one page."),
  // The cluster's tokens are base64; kept short and plain, a token fits in the request line
  // (Node refuses heads past 16 KiB, and every other character would be sent as three).
  continue: z.string().min(1).max(4096).regex(/^[A-Za-z0-9._~+/=-]+$/, "not a continue token").optional()
    .describe("The token of the previous page, to get the next one."),
});

/** A ScriptRun's name, as GET and DELETE /runs/:name take it: a DNS subdomain. */
export const RunNameSchema = z.string().min(1).max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "not a run name (lowercase letters, digits, '-' and '.')")
  .describe("The run's name.");

export const NamespaceQuerySchema = z.strictObject({
  namespace: z.string().regex(NAMESPACE).max(63).optional().describe("Namespace of the run; the API's default when absent."),
});

/** A validated body as the run it asks for: alias resolved, params convention applied. */
export function toRunRequest(body: Body, route: Route, config: ApiConfig): RunRequest {
  const { script, entrypoint, args, kwargs } = body.params !== undefined
    ? applyParams(body.script ?? body.code ?? "", body.params, body.entrypoint)
    : { script: body.script ?? body.code ?? "", entrypoint: body.entrypoint, args: body.args, kwargs: body.kwargs };
  // Plain `code` is a script to run top to bottom, as older executors ran it; `params` asks for a function.
  const mode = route === "scripts" || (body.code !== undefined && body.mode === undefined && body.params === undefined)
    ? "script" as const : body.mode;
  const runSpec: ScriptRunSpecInput = {
    script,
    ...(mode !== undefined ? { mode } : {}),
    ...(entrypoint !== undefined ? { entrypoint } : {}),
    ...(args !== undefined ? { args } : {}),
    ...(kwargs !== undefined ? { kwargs } : {}),
    ...(body.stdin !== undefined ? { stdin: body.stdin } : {}),
    ...(body.timeoutSeconds !== undefined ? { timeoutSeconds: body.timeoutSeconds } : {}),
    ...(body.resources !== undefined ? { resources: body.resources } : {}),
    ...(body.runtime !== undefined ? { runtime: body.runtime } : {}),
    ...(config.runTtlSeconds !== undefined ? { ttlSecondsAfterFinished: config.runTtlSeconds } : {}),
  };
  return { namespace: body.namespace ?? config.defaultNamespace, waitSeconds: body.waitSeconds ?? config.maxWaitSeconds, spec: runSpec };
}

export const OutcomeSchema = z.object({
  name: z.string().nullable().describe("The ScriptRun's name; null when preflight refused the script and no run was created."),
  namespace: z.string(),
  success: z.boolean().nullable().describe("Whether the run succeeded; null while it has not finished."),
  phase: z.enum(PHASES).nullable().describe("Phase of the run; null until the controller has seen it."),
  result: z.unknown().describe("The entrypoint's return value (any JSON value)."),
  stdout: z.string(),
  stderr: z.string(),
  error: RunErrorSchema.nullable(),
  exitCode: z.int().nullable(),
  durationMs: z.int().nullable(),
}).describe("What a run came to.");
export type Outcome = z.output<typeof OutcomeSchema>;

export const RunViewSchema = OutcomeSchema.extend({
  createdAt: z.string().nullable(),
  cancelRequested: z.boolean(),
  // As the cluster stored it: its CRD fills in mode and entrypoint, an older one may not have.
  spec: ScriptRunSpecSchema.extend({ mode: spec.mode.unwrap().optional(), entrypoint: spec.entrypoint.unwrap().optional() })
    .describe(ScriptRunSpecSchema.description ?? "The run's spec."),
  status: z.record(z.string(), z.unknown()).describe("The whole ScriptRun status."),
}).describe("One run: its outcome so far, spec and status.");

export const RunSummarySchema = z.object({
  name: z.string(),
  namespace: z.string(),
  phase: z.enum(PHASES).nullable(),
  createdAt: z.string().nullable(),
  summary: z.string().nullable().describe("Short result, or error type and message."),
  durationMs: z.int().nullable(),
  cancelRequested: z.boolean(),
});
export type RunSummary = z.output<typeof RunSummarySchema>;

export const RunListSchema = z.object({
  items: z.array(RunSummarySchema),
  continue: z.string().nullable().describe("Token for the next page; null on the last one."),
});

const RuntimeLimitsSchema = z.object({
  timeoutSeconds: z.int(),
  cpu: z.string(),
  memory: z.string(),
  pids: z.int(),
  outputBytes: z.int(),
});

export const RuntimeListSchema = z.object({
  namespace: z.string().describe("The namespace the runtimes were judged for."),
  items: z.array(z.object({
    name: z.string(),
    default: z.boolean().describe("Whether a run that names no runtime gets this one."),
    image: z.string(),
    modules: z.array(z.string()).describe("Top-level modules the image adds to the Python standard library, numpy and pandas."),
    defaults: RuntimeLimitsSchema.describe("What a run gets when it does not ask."),
    maxima: RuntimeLimitsSchema.describe("The most a run may ask for."),
  })),
}).describe("The runtimes a run in the namespace may use, by name.");
export type RuntimeList = z.output<typeof RuntimeListSchema>;

export const RunRefSchema = z.object({ name: z.string(), namespace: z.string() }).describe("The run that was created or cancelled.");

export const ErrorSchema = z.object({
  error: z.object({
    type: z.string().describe("Stable type: invalid_input, too_large, unsupported_media_type, unauthenticated, forbidden, not_found, " +
      "method_not_allowed, conflict, idempotency_key_reused, too_many_waits, over_capacity, cluster_unavailable, preflight_unavailable, " +
      "not_ready, shutting_down, wait_timeout, run_deleted, internal."),
    message: z.string(),
    issues: z.array(z.object({ path: z.array(z.union([z.string(), z.number()])), message: z.string(), code: z.string().optional() })).optional(),
    name: z.string().optional().describe("The run concerned (e.g. on wait_timeout, to fetch it later)."),
    namespace: z.string().optional(),
  }),
}).describe("Every error answer.");

// GET /openapi.json: the OpenAPI 3.0 document of the API, generated from the same zod schemas
// that validate requests (schemas.ts, themselves derived from the ScriptRun schema), so the
// document cannot drift from what the API accepts.
import { z } from "zod";
import { JSON_FIELDS } from "./body.js";
import type { ApiConfig } from "./config.js";
import {
  ErrorSchema, ListQuerySchema, NamespaceQuerySchema, OutcomeSchema, RunListSchema, RunNameSchema, RunRefSchema, RunViewSchema,
  type RuntimeBounds, RuntimeListSchema, crossRules, schemasFor,
} from "./schemas.js";

type Json = Record<string, unknown>;

const jsonSchema = (schema: z.ZodType, io: "input" | "output") => z.toJSONSchema(schema, { target: "openapi-3.0", io }) as Json;
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const answer = (description: string, name = "Error") => ({ description, content: { "application/json": { schema: ref(name) } } });

/** The same fields as a form, and how its parts are encoded: JSON-valued fields as JSON text,
 * the others as text, and the script may come as a `file` part instead (the same cross-field rules,
 * with the file as one more way to give the script). */
function formBody(request: Json): { schema: Json; encoding: Json } {
  const given = (request.properties ?? {}) as Record<string, Json>;
  const properties: Record<string, Json> = {
    ...given,
    file: { type: "string", format: "binary", description: "The script, as a file of UTF-8 text (instead of script or code)." },
  };
  const fields = Object.keys(properties);
  const paramsAlways = given.params?.default !== undefined;
  const encoding = {
    ...Object.fromEntries(fields.filter((f) => JSON_FIELDS.has(f)).map((f) => [f, { contentType: "application/json" }])),
    // A file, but of text: the API refuses one that is not UTF-8.
    file: { contentType: "text/plain" },
  };
  return {
    schema: { type: "object", properties, additionalProperties: false, allOf: crossRules(fields, ["script", "code", "file"], paramsAlways),
      description: request.description },
    encoding,
  };
}

/** One event of a run's stream (what OpenAPI 3.2 calls the itemSchema of text/event-stream). */
const SSE_EVENT = {
  type: "object",
  description: "An event: phase ({name, namespace, phase, queuePosition?}) on each change; output ({stream, offset, text, "
    + "stopped?}) as the script prints, with an id (bytes of stdout and stderr so far, 'N-M') that a reconnect sends back as "
    + "Last-Event-ID to resume; then finished (the outcome, as POST /execute answers it), deleted or timeout; data is JSON text.",
  properties: {
    event: { type: "string", enum: ["phase", "output", "finished", "deleted", "timeout"] },
    data: { type: "string" }, id: { type: "string" }, retry: { type: "integer" },
  },
  required: ["data"],
};

const failures = {
  400: answer("Invalid request; error.issues lists what is wrong"),
  401: answer("No valid bearer token"),
  403: answer("The caller may not do this in that namespace"),
  503: answer("The cluster (or the preflight checker) did not answer; retry after Retry-After"),
};

function runRequest(name: string, summary: string, description: string | undefined, ok: Json, encoding: Json) {
  return {
    post: {
      summary,
      description: description ?? "",
      parameters: [{
        name: "Idempotency-Key", in: "header", required: false, schema: { type: "string", minLength: 1, maxLength: 255, pattern: "^[!-~]+$" },
        description: "A retry with the same key (per namespace and caller) returns the same run instead of starting a second one, for as long as that run exists.",
      }],
      requestBody: {
        required: true,
        content: { "application/json": { schema: ref(name) }, "multipart/form-data": { schema: ref(`${name}Form`), encoding } },
      },
      responses: {
        ...ok,
        ...failures,
        413: answer("The body or the script is larger than allowed"),
        422: answer("The Idempotency-Key was already used for another request"),
        415: answer("The body is neither application/json nor multipart/form-data"),
      },
    },
  };
}

const documents = new WeakMap<ApiConfig, { key: string; document: Json }>();

/** The document for the configuration and the runtimes' bounds, made again only when they change. */
export function openApiDocument(config: ApiConfig, bounds: RuntimeBounds): Json {
  const key = JSON.stringify(bounds);
  let entry = documents.get(config);
  if (entry?.key !== key) documents.set(config, (entry = { key, document: buildDocument(config, bounds) }));
  return entry.document;
}

function buildDocument(config: ApiConfig, bounds: RuntimeBounds): Json {
  const requests = schemasFor(config, bounds);
  const names = { execute: "ExecuteRequest", scripts: "ScriptsRequest", params: "ParamsRequest", runs: "RunRequest" } as const;
  const schemas: Record<string, Json> = {
    Outcome: jsonSchema(OutcomeSchema, "output"),
    Run: jsonSchema(RunViewSchema, "output"),
    RunList: jsonSchema(RunListSchema, "output"),
    RunRef: jsonSchema(RunRefSchema, "output"),
    RuntimeList: jsonSchema(RuntimeListSchema, "output"),
    Error: jsonSchema(ErrorSchema, "output"),
  };
  const encodings: Record<string, Json> = {};
  for (const [route, name] of Object.entries(names) as Array<[keyof typeof names, string]>) {
    const request = jsonSchema(requests[route], "input");
    const form = formBody(request);
    schemas[name] = request;
    schemas[`${name}Form`] = form.schema;
    encodings[name] = form.encoding;
  }
  const waited = {
    200: answer("The run finished (success true or false); preflight refusals come back at once with name null", "Outcome"),
    410: answer("The run was deleted while it was awaited (run_deleted)"),
    429: answer("Too many requests are waiting already (too_many_waits), or the runs ahead could not finish within the wait (over_capacity); retry after Retry-After"),
    504: answer("The run did not finish in time; error.name names it, to fetch later"),
  };
  const namespaceQuery = jsonSchema(NamespaceQuerySchema, "input") as { properties: { namespace: Json } };
  const namespace = { name: "namespace", in: "query", required: false, schema: namespaceQuery.properties.namespace, description: `Default ${config.defaultNamespace}` };
  const name = { name: "name", in: "path", required: true, schema: jsonSchema(RunNameSchema, "input") };
  const listQuery = jsonSchema(ListQuerySchema, "input") as { properties: Record<string, Json> };
  const open = (summary: string, responses: Json) => ({ get: { summary, security: [], responses } });
  return {
    openapi: "3.0.3",
    info: { title: "ScriptRun API", version: config.version, description: "Runs Python scripts as sandboxed ScriptRuns in Kubernetes." },
    components: { schemas, securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "A Kubernetes token (TokenReview)" } } },
    security: config.auth === "kubernetes" ? [{ bearer: [] }] : [],
    paths: {
      "/execute": runRequest(names.execute, "Run a script and wait for its outcome", requests.execute.description, waited, encodings[names.execute]!),
      "/scripts": runRequest(names.scripts, "Run a script as __main__ and wait (alias)", requests.scripts.description, waited, encodings[names.scripts]!),
      "/params": runRequest(names.params, "Call the function the script's last line names (alias)", requests.params.description, waited, encodings[names.params]!),
      "/runs": {
        ...runRequest(names.runs, "Start a run without waiting", requests.runs.description, { 202: answer("The run was created", "RunRef") }, encodings[names.runs]!),
        get: {
          summary: "List runs, a page at a time",
          parameters: Object.entries(listQuery.properties).map(([param, schema]) => ({ name: param, in: "query", required: false, schema })),
          responses: { 200: answer("One page of runs", "RunList"), ...failures },
        },
      },
      "/runs/{name}": {
        get: { summary: "One run", parameters: [name, namespace], responses: { 200: answer("The run", "Run"), 404: answer("No such run"), ...failures } },
        delete: {
          summary: "Cancel a run: its pod is stopped and it fails with error type cancelled",
          parameters: [name, namespace],
          responses: { 202: answer("Cancellation requested", "RunRef"), 404: answer("No such run"), 409: answer("The run already finished"), ...failures },
        },
      },
      "/runs/{name}/events": {
        get: {
          summary: "Server-Sent Events of the run: phase on each change, output as the script prints, then finished (the outcome), deleted or timeout",
          parameters: [name, namespace],
          responses: {
            200: { description: "An event stream", content: { "text/event-stream": { schema: SSE_EVENT } } },
            404: answer("No such run"), 429: answer("Too many open waits and streams"), ...failures,
          },
        },
      },
      "/runtimes": {
        get: {
          summary: "The runtimes a run in the namespace may use, with their defaults and maxima (needs the right to create runs there)",
          parameters: [namespace],
          responses: { 200: answer("The runtimes, by name", "RuntimeList"), ...failures },
        },
      },
      "/healthz": open("Liveness", { 200: { description: "The process is up" } }),
      "/readyz": open("Readiness: the cluster answers and the shared watch follows it", { 200: { description: "Ready" }, 503: answer("Not ready") }),
      "/health": open("Liveness for clients of older executors: {status, service, version}", { 200: { description: "Up" } }),
      "/metrics": open("Prometheus metrics", { 200: { description: "Metrics in the Prometheus text format" } }),
      "/openapi.json": open("This document", { 200: { description: "OpenAPI 3.0" } }),
    },
  };
}

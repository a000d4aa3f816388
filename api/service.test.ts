// The service's own endpoints: liveness, readiness, metrics, the OpenAPI document, and CORS.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ApiException } from "@kubernetes/client-node";
import { z } from "zod";
import { testRuntimes } from "../core/testkit.js";
import { RESOURCES_NOT_SERVED } from "./errors.js";
import { runtimeBounds, schemasFor } from "./schemas.js";
import { type TestApp, testApp } from "./testkit.js";

const here = dirname(fileURLToPath(import.meta.url));

/** Every `$ref` in a JSON document. */
function refs(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refs);
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([key, v]) => (key === "$ref" && typeof v === "string" ? [v] : refs(v)));
}

describe("the service endpoints", () => {
  let t: TestApp;
  beforeEach(() => {
    t = testApp();
  });
  afterEach(() => t.close());

  it("GET /healthz answers ok", async () => {
    const res = await t.http.get("/healthz");
    assert.deepEqual([res.status, res.body], [200, { status: "ok" }]);
  });

  it("GET /readyz answers ready when the cluster answers and the watch follows it", async () => {
    const res = await t.http.get("/readyz");
    assert.deepEqual([res.status, res.body], [200, { status: "ready" }]);
  });

  it("GET /readyz answers 503 when the cluster does not answer, saying why", async () => {
    t.store.failure = new ApiException(503, "Service Unavailable", '{"kind":"Status","message":"etcdserver: request timed out"}', {});
    const res = await t.http.get("/readyz");
    assert.equal(res.status, 503);
    assert.equal(res.body.error.type, "not_ready");
    assert.match(res.body.error.message, /etcdserver: request timed out/);
  });

  it("GET /readyz answers 503 naming the CRDs when the apiserver does not serve ScriptRuns", async () => {
    t.store.failure = new ApiException(404, "Not Found", "404 page not found\n", {});
    const res = await t.http.get("/readyz");
    t.store.failure = undefined;
    assert.deepEqual([res.status, res.body.error.type, res.body.error.message], [503, "not_ready", RESOURCES_NOT_SERVED]);
  });

  it("GET /readyz answers 503 once shutdown began, and new waits are refused", async () => {
    await t.waiter.drain(0);
    assert.equal((await t.http.get("/readyz")).status, 503);
    const res = await t.http.post("/execute").send({ script: "def main():\n    return 1\n" });
    assert.deepEqual([res.status, res.body.error.type], [503, "shutting_down"]);
  });

  it("GET /metrics counts requests by route and status, and shows the waits in flight", async () => {
    await t.http.post("/execute").send({ script: "def main():\n    return 1\n" });
    await t.http.get("/runs/run-nothere");
    const res = await t.http.get("/metrics");
    assert.equal(res.status, 200);
    assert.match(res.headers["content-type"] ?? "", /^text\/plain/);
    assert.match(res.text, /scriptrun_api_requests_total\{method="POST",route="\/execute",status="200"\} 1/);
    assert.match(res.text, /scriptrun_api_requests_total\{method="GET",route="\/runs\/:name",status="404"\} 1/);
    assert.match(res.text, /scriptrun_api_request_duration_seconds_count\{method="POST",route="\/execute",status="200"\} 1/);
    assert.match(res.text, /scriptrun_api_waits_in_flight 0/);
    assert.match(res.text, /scriptrun_api_preflight_duration_seconds_count\{outcome="ok"\} 1/);
  });

  it("GET /openapi.json describes every route, with the request schemas that validate them", async () => {
    const res = await t.http.get("/openapi.json");
    assert.equal(res.status, 200);
    const doc = JSON.parse(res.text) as { openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, { properties: Record<string, unknown> }> } };
    assert.equal(doc.openapi, "3.0.3");
    assert.deepEqual(Object.keys(doc.paths).sort(), ["/execute", "/health", "/healthz", "/metrics", "/openapi.json", "/params",
      "/readyz", "/runs", "/runs/{name}", "/runs/{name}/events", "/runtimes", "/scripts"]);
    const execute = doc.components.schemas.ExecuteRequest!;
    assert.deepEqual(execute, z.toJSONSchema(schemasFor(t.config, runtimeBounds(testRuntimes().list())).execute, { target: "openapi-3.0", io: "input" }));
    assert.deepEqual(Object.keys(execute.properties).sort(), ["args", "code", "entrypoint", "kwargs", "mode", "namespace", "params",
      "resources", "runtime", "script", "stdin", "timeoutSeconds", "waitSeconds"]);
    assert.deepEqual((execute.properties.runtime as { enum: string[] }).enum, ["python"]);
    assert.equal((doc.components.schemas.ExecuteRequestForm!.properties.file as { format: string }).format, "binary");
    for (const target of refs(doc)) {
      assert.ok(doc.components.schemas[target.replace("#/components/schemas/", "")], `${target} does not resolve`);
    }
  });

  it("GET /openapi.json names every error type the API answers with, and /execute's 410 and 429", async () => {
    const doc = JSON.parse((await t.http.get("/openapi.json")).text) as {
      paths: Record<string, { post?: { responses: Record<string, unknown> } }>;
      components: { schemas: { Error: { properties: { error: { properties: { type: { description: string } } } } } } };
    };
    const described = doc.components.schemas.Error.properties.error.properties.type.description;
    const sources = readdirSync(here, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"));
    const thrown = new Set(sources.flatMap((f) => [...readFileSync(join(here, f), "utf8").matchAll(/new ApiError\(\d+, "([a-z_]+)"/g)].map((m) => m[1]!)));
    // 499: the client went away; nobody reads that answer.
    thrown.delete("client_closed");
    assert.ok(thrown.size > 10, [...thrown].join(", "));
    for (const type of thrown) assert.match(described, new RegExp(`\\b${type}\\b`), type);
    assert.deepEqual(["410", "429"].filter((code) => !doc.paths["/execute"]?.post?.responses[code]), []);
  });

  it("sends no CORS headers unless origins are configured", async () => {
    const res = await t.http.get("/healthz").set("Origin", "https://app.example");
    assert.equal(res.headers["access-control-allow-origin"], undefined);
  });
});

describe("CORS", () => {
  let t: TestApp;
  beforeEach(() => {
    t = testApp({ env: { SCRIPTRUN_API_CORS_ORIGINS: "https://app.example, https://other.example" } });
  });
  afterEach(() => t.close());

  it("allows a configured origin, preflight included", async () => {
    const res = await t.http.options("/execute").set("Origin", "https://app.example")
      .set("Access-Control-Request-Method", "POST").set("Access-Control-Request-Headers", "authorization,content-type");
    assert.equal(res.status, 204);
    assert.equal(res.headers["access-control-allow-origin"], "https://app.example");
    assert.match(res.headers["access-control-allow-headers"] ?? "", /Authorization/);
  });

  it("gives an origin that is not configured no CORS headers", async () => {
    const res = await t.http.get("/healthz").set("Origin", "https://evil.example");
    assert.equal(res.headers["access-control-allow-origin"], undefined);
  });
});

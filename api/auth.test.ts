// Callers are who Kubernetes says they are, and may do what it allows: bearer tokens through a
// TokenReview, each route's verb through a SubjectAccessReview, answers cached for a short TTL.
// The reviews here are scripted; the real-cluster tests use real ServiceAccount tokens.
import assert from "node:assert/strict";
import { FetchError } from "@kubernetes/client-node";
import { KubernetesAuth } from "./auth.js";
import { REQUESTED_BY_ANNOTATION } from "./runService.js";
import { ScriptedReviews, type TestApp, testApp } from "./testkit.js";

const SCRIPT = "def main():\n    return 1\n";
const ALICE = "Bearer alice-token";

describe("authentication and authorisation", () => {
  let t: TestApp;
  let reviews: ScriptedReviews;
  beforeEach(() => {
    reviews = new ScriptedReviews();
    reviews.users.set("alice-token", { username: "system:serviceaccount:team-a:runner", groups: ["system:serviceaccounts"] });
    reviews.grant("system:serviceaccount:team-a:runner", ["create", "get", "list", "delete"], "team-a");
    t = testApp({ env: { SCRIPTRUN_API_NAMESPACE: "team-a", SCRIPTRUN_API_AUTH_CACHE_SECONDS: "1" }, auth: new KubernetesAuth(reviews, 1) });
  });
  afterEach(() => t.close());

  it("answers 401 with a Bearer challenge when there is no token", async () => {
    const res = await t.http.post("/execute").send({ script: SCRIPT });
    assert.equal(res.status, 401);
    assert.equal(res.body.error.type, "unauthenticated");
    assert.match(res.headers["www-authenticate"] ?? "", /^Bearer/);
  });

  it("answers 401 to a token the cluster does not accept, and to a malformed header", async () => {
    assert.equal((await t.http.post("/execute").set("Authorization", "Bearer forged").send({ script: SCRIPT })).status, 401);
    assert.equal((await t.http.get("/runs").set("Authorization", "Basic YWxpY2U6cHc=")).status, 401);
  });

  it("checks the token before reading the body", async () => {
    const res = await t.http.post("/execute").set("Content-Type", "text/plain").send("not even JSON");
    assert.equal(res.status, 401);
  });

  it("runs the script for a caller allowed to create runs in the namespace, and records who asked", async () => {
    const res = await t.http.post("/execute").set("Authorization", ALICE).send({ script: SCRIPT });
    assert.equal(res.status, 200);
    assert.equal(res.body.namespace, "team-a");
    const run = t.store.runs.get(`team-a/${res.body.name}`)!;
    assert.equal(run.metadata.annotations?.[REQUESTED_BY_ANNOTATION], "system:serviceaccount:team-a:runner");
  });

  it("answers 403 in a namespace where the caller may not create runs, creating nothing", async () => {
    const res = await t.http.post("/execute").set("Authorization", ALICE).send({ script: SCRIPT, namespace: "team-b" });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.type, "forbidden");
    assert.match(res.body.error.message, /system:serviceaccount:team-a:runner may not create scriptruns.scriptrun.dev in namespace team-b: no RBAC rule allows it/);
    assert.equal(t.store.runs.size, 0);
  });

  it("asks for the verb of each route", async () => {
    reviews.users.set("reader-token", { username: "reader" });
    reviews.grant("reader", ["get", "list"], "team-a");
    const reader = "Bearer reader-token";
    const { body: created } = await t.http.post("/runs").set("Authorization", ALICE).send({ script: SCRIPT });
    assert.equal((await t.http.get("/runs").set("Authorization", reader)).status, 200);
    assert.equal((await t.http.get(`/runs/${created.name}`).set("Authorization", reader)).status, 200);
    assert.equal((await t.http.post("/runs").set("Authorization", reader).send({ script: SCRIPT })).status, 403);
    const cancel = await t.http.delete(`/runs/${created.name}`).set("Authorization", reader);
    assert.equal(cancel.status, 403);
    assert.match(cancel.body.error.message, /may not delete/);
  });

  it("keeps an answer for the cache's lifetime, then asks again", async function () {
    this.timeout(5000);
    assert.equal((await t.http.get("/runs").set("Authorization", ALICE)).status, 200);
    reviews.users.delete("alice-token");
    assert.equal((await t.http.get("/runs").set("Authorization", ALICE)).status, 200, "the cached review should still hold");
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await t.http.get("/runs").set("Authorization", ALICE)).status, 401);
  });

  it("answers 503 when the cluster cannot review the token, and asks again next time", async () => {
    reviews.failure = new FetchError("connect ECONNREFUSED", "system", { code: "ECONNREFUSED" } as never);
    const res = await t.http.get("/runs").set("Authorization", ALICE);
    assert.equal(res.status, 503);
    assert.equal(res.body.error.type, "cluster_unavailable");
    reviews.failure = undefined;
    assert.equal((await t.http.get("/runs").set("Authorization", ALICE)).status, 200);
  });

  it("leaves the service endpoints open", async () => {
    for (const path of ["/healthz", "/readyz", "/health", "/metrics", "/openapi.json"]) {
      assert.equal((await t.http.get(path)).status, 200, path);
    }
  });
});

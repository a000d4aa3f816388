// GET /runtimes: the runtimes a run in the namespace may use, judged as a run naming one would be.
import assert from "node:assert/strict";
import { StaticRuntimes } from "../core/runtimeCatalog.js";
import { aRuntime, testRuntimes } from "../core/testkit.js";
import { KubernetesAuth } from "./auth.js";
import { ScriptedReviews, type TestApp, testApp } from "./testkit.js";

describe("GET /runtimes", () => {
  let t: TestApp;
  const runtimes = () => testRuntimes(
    aRuntime("python"),
    aRuntime("datascience", { modules: ["sklearn"], defaults: { memory: "512Mi" }, maxima: { timeoutSeconds: 60 } }),
    aRuntime("team-only", { namespaceSelector: { matchLabels: { team: "a" } } }),
    // Unusable: its default is above its maximum.
    aRuntime("broken", { defaults: { timeoutSeconds: 100 }, maxima: { timeoutSeconds: 10 } }),
  );
  afterEach(() => t.close());

  it("lists the runtimes the namespace may use, with their limits and which is the default", async () => {
    t = testApp({ runtimes: runtimes() });
    const res = await t.http.get("/runtimes");
    assert.equal(res.status, 200);
    assert.equal(res.body.namespace, "default");
    assert.deepEqual(res.body.items.map((r: { name: string }) => r.name), ["datascience", "python"]);
    const [datascience, python] = res.body.items;
    assert.deepEqual(python, {
      name: "python", default: true, image: "localhost/scriptrun/runner:test", modules: [],
      defaults: { timeoutSeconds: 10, cpu: "500m", memory: "256Mi", pids: 64, outputBytes: 1048576 },
      maxima: { timeoutSeconds: 300, cpu: "2", memory: "2Gi", pids: 1024, outputBytes: 4194304 },
    });
    assert.deepEqual([datascience.default, datascience.modules, datascience.defaults.memory, datascience.maxima.timeoutSeconds],
      [false, ["sklearn"], "512Mi", 60]);
  });

  it("includes a runtime whose namespaceSelector matches the namespace asked for", async () => {
    t = testApp({ runtimes: new StaticRuntimes(runtimes().list(), { "team-a": { team: "a" } }) });
    const res = await t.http.get("/runtimes?namespace=team-a");
    assert.equal(res.status, 200);
    assert.equal(res.body.namespace, "team-a");
    assert.deepEqual(res.body.items.map((r: { name: string }) => r.name), ["datascience", "python", "team-only"]);
  });

  it("asks for a token and for the right to create runs in the namespace", async () => {
    const reviews = new ScriptedReviews();
    reviews.users.set("alice-token", { username: "alice" });
    reviews.users.set("bob-token", { username: "bob" });
    reviews.grant("alice", ["create"], "team-a");
    reviews.grant("bob", ["get", "list"], "team-a");
    t = testApp({ env: { SCRIPTRUN_API_NAMESPACE: "team-a" }, auth: new KubernetesAuth(reviews, 0), runtimes: runtimes() });
    assert.equal((await t.http.get("/runtimes")).status, 401);
    const bob = await t.http.get("/runtimes").set("Authorization", "Bearer bob-token");
    assert.deepEqual([bob.status, bob.body.error.type], [403, "forbidden"]);
    assert.match(bob.body.error.message, /bob may not create scriptruns.scriptrun.dev in namespace team-a/);
    const alice = await t.http.get("/runtimes").set("Authorization", "Bearer alice-token");
    assert.equal(alice.status, 200);
    assert.equal((await t.http.get("/runtimes?namespace=team-b").set("Authorization", "Bearer alice-token")).status, 403);
  });

  it("answers 400 to a namespace that cannot exist", async () => {
    t = testApp({ runtimes: runtimes() });
    const res = await t.http.get("/runtimes?namespace=Not_A_Namespace");
    assert.deepEqual([res.status, res.body.error.type], [400, "invalid_input"]);
  });
});

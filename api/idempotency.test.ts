// Idempotency-Key on POST /runs and POST /execute, in process: a retry returns the first attempt's
// run, another request under the same key is refused, and nothing is kept in the API itself.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { KubernetesAuth } from "./auth.js";
import { IDEMPOTENCY_ANNOTATION } from "./idempotency.js";
import { ScriptedReviews, type TestApp, testApp } from "./testkit.js";

const SCRIPT = "def main():\n    return 1\n";

describe("an Idempotency-Key", () => {
  let t: TestApp;
  beforeEach(() => {
    t = testApp();
  });
  afterEach(() => t.close());

  it("makes a retry of POST /runs return the same run instead of starting a second one", async () => {
    const first = await t.http.post("/runs").set("Idempotency-Key", "order-42").send({ script: SCRIPT });
    const retry = await t.http.post("/runs").set("Idempotency-Key", "order-42").send({ script: SCRIPT });
    assert.deepEqual([first.status, retry.status], [202, 202]);
    assert.equal(retry.body.name, first.body.name);
    assert.equal(retry.headers["idempotent-replayed"], "true");
    assert.equal(first.headers["idempotent-replayed"], undefined);
    assert.equal(t.store.runs.size, 1);
  });

  it("makes a retry of POST /execute answer with the first attempt's run once it finished", async () => {
    const first = await t.http.post("/execute").set("Idempotency-Key", "k1").send({ script: SCRIPT });
    const retry = await t.http.post("/execute").set("Idempotency-Key", "k1").send({ script: SCRIPT });
    assert.deepEqual([first.status, retry.status], [200, 200]);
    assert.equal(retry.body.name, first.body.name);
    assert.deepEqual(retry.body, first.body);
    assert.equal(t.store.runs.size, 1);
  });

  it("makes a retry of POST /execute wait for the first attempt's run while it still runs", async () => {
    t.store.finishAfterMs = 300;
    const [first, retry] = await Promise.all([
      t.http.post("/execute").set("Idempotency-Key", "k2").send({ script: SCRIPT }),
      new Promise((r) => setTimeout(r, 50)).then(() => t.http.post("/execute").set("Idempotency-Key", "k2").send({ script: SCRIPT })),
    ]);
    assert.deepEqual([first.status, retry.status, retry.body.success], [200, 200, true]);
    assert.equal(retry.body.name, first.body.name);
    assert.equal(t.store.runs.size, 1);
  });

  it("makes a retry of POST /execute answer 410 when the first attempt's run is deleted while it waits", async () => {
    t.store.outcome = () => undefined;
    const first = await t.http.post("/execute").set("Idempotency-Key", "k5").send({ script: SCRIPT, waitSeconds: 1 });
    assert.equal(first.status, 504);
    // The run stays Running: no change of it comes before its deletion.
    setTimeout(() => t.store.remove("default", first.body.error.name), 100);
    const retry = await t.http.post("/execute").set("Idempotency-Key", "k5").send({ script: SCRIPT, waitSeconds: 1 });
    assert.deepEqual([retry.status, retry.body.error.type, retry.body.error.name], [410, "run_deleted", first.body.error.name]);
  });

  it("makes a retry of POST /execute answer with its own run when the earlier run of its key is told deleted late", async function () {
    // Two waits of 1 s at most in a row: mocha's 2 s would cut the test before a retry that waited
    // its whole second (a wrong answer) could say what it got.
    this.timeout(5000);
    t.store.outcome = () => undefined;
    const first = await t.http.post("/execute").set("Idempotency-Key", "k6").send({ script: SCRIPT, waitSeconds: 1 });
    assert.equal(first.status, 504);
    const name = first.body.error.name as string;
    const earlier = (await t.store.get("default", name))!;
    // The earlier run is deleted; the watch has not told it yet.
    t.store.runs.delete(`default/${name}`);
    t.store.outcome = () => ({ phase: "Succeeded", result: 2 });
    const create = t.store.create.bind(t.store);
    t.store.create = async (run) => {
      // It tells the earlier run's last change and its deletion only now, as the new run is made.
      t.waiter.changed(earlier);
      t.waiter.deleted(earlier);
      return create(run);
    };
    const retry = await t.http.post("/execute").set("Idempotency-Key", "k6").send({ script: SCRIPT, waitSeconds: 1 });
    assert.deepEqual([retry.status, retry.body.name, retry.body.result], [200, name, 2], JSON.stringify(retry.body));
  });

  it("makes a retry of POST /execute answer with its own run's outcome when the earlier run of its key finished and is told late", async () => {
    t.store.outcome = () => ({ phase: "Succeeded", result: "earlier" });
    const first = await t.http.post("/execute").set("Idempotency-Key", "k10").send({ script: SCRIPT });
    const name = first.body.name as string;
    const earlier = (await t.store.get("default", name))!;
    // The earlier run is deleted (its TTL, kubectl delete); the watch has not told it yet.
    t.store.runs.delete(`default/${name}`);
    t.store.outcome = () => ({ phase: "Succeeded", result: "own" });
    const create = t.store.create.bind(t.store);
    t.store.create = async (run) => {
      // It tells the earlier run's last change only now, as the new run is made.
      t.waiter.changed(earlier);
      return create(run);
    };
    const retry = await t.http.post("/execute").set("Idempotency-Key", "k10").send({ script: SCRIPT });
    assert.deepEqual([retry.status, retry.body.name, retry.body.result], [200, name, "own"]);
  });

  it("refuses with 422 the same key for another request, creating nothing", async () => {
    await t.http.post("/runs").set("Idempotency-Key", "k3").send({ script: SCRIPT });
    const other = await t.http.post("/runs").set("Idempotency-Key", "k3").send({ script: SCRIPT, args: [] });
    assert.equal(other.status, 422);
    assert.equal(other.body.error.type, "idempotency_key_reused");
    const viaExecute = await t.http.post("/execute").set("Idempotency-Key", "k3").send({ script: "def main():\n    return 2\n" });
    assert.equal(viaExecute.status, 422);
    assert.equal(t.store.runs.size, 1);
  });

  it("answers a run found under the key only if its spec is the one asked for, not by any mark on it", async () => {
    const first = await t.http.post("/runs").set("Idempotency-Key", "k7").send({ script: SCRIPT, kwargs: { note: "\ud800" } });
    const stored = t.store.runs.get(`default/${first.body.name}`)!;
    // The apiserver fills in the CRD's defaults, and stores a lone surrogate as U+FFFD: still the same request.
    stored.spec = { ...stored.spec, mode: "function", entrypoint: "main", kwargs: { note: "\ufffd" } };
    const retry = await t.http.post("/runs").set("Idempotency-Key", "k7").send({ script: SCRIPT, kwargs: { note: "\ud800" } });
    assert.deepEqual([retry.status, retry.body.name], [202, first.body.name]);
    // Someone who may create runs in the namespace made the run of that name with another script,
    // its metadata as the API's own.
    stored.spec = { ...stored.spec, script: "def main():\n    return 'forged'\n" };
    const forged = await t.http.post("/execute").set("Idempotency-Key", "k7").send({ script: SCRIPT, kwargs: { note: "\ud800" } });
    assert.deepEqual([forged.status, forged.body.error?.type], [422, "idempotency_key_reused"]);
  });

  it("takes a spec as the apiserver keeps it: keys made well-formed before they are ordered, and not the API's TTL", async () => {
    const kwargs = { "\ud800": 1, "\ue000": 2 };
    const first = await t.http.post("/runs").set("Idempotency-Key", "k8").send({ script: SCRIPT, kwargs });
    const stored = t.store.runs.get(`default/${first.body.name}`)!;
    // Another replica, or the API configured again since, sets another TTL.
    stored.spec = { ...stored.spec, kwargs: { "\ufffd": 1, "\ue000": 2 }, ttlSecondsAfterFinished: 60 };
    const retry = await t.http.post("/runs").set("Idempotency-Key", "k8").send({ script: SCRIPT, kwargs });
    assert.deepEqual([retry.status, retry.body.name], [202, first.body.name]);
  });

  it("marks the run with the request's digest as API versions before the spec comparison check it", async () => {
    const first = await t.http.post("/runs").set("Idempotency-Key", "k9").send({ script: SCRIPT, kwargs: { b: 1, a: ["\ud800"] } });
    const { metadata, spec } = t.store.runs.get(`default/${first.body.name}`)!;
    // Their digest: sha256 of the spec sent, as JSON with its keys in order, its strings as they are.
    const sent = { ...spec } as Record<string, unknown>;
    const json = `{${Object.keys(sent).sort().map((k) => `${JSON.stringify(k)}:${k === "kwargs" ? '{"a":["\\ud800"],"b":1}' : JSON.stringify(sent[k])}`).join(",")}}`;
    assert.equal(metadata.annotations?.[IDEMPOTENCY_ANNOTATION], createHash("sha256").update(json).digest("hex"));
  });

  it("keeps keys apart per namespace, and the same request with reordered kwargs is the same request", async () => {
    const a = await t.http.post("/runs").set("Idempotency-Key", "k4").send({ script: SCRIPT, kwargs: { x: 1, y: 2 } });
    const again = await t.http.post("/runs").set("Idempotency-Key", "k4").send({ kwargs: { y: 2, x: 1 }, script: SCRIPT });
    const elsewhere = await t.http.post("/runs").set("Idempotency-Key", "k4").send({ script: SCRIPT, kwargs: { x: 1, y: 2 }, namespace: "team-b" });
    assert.equal(again.body.name, a.body.name);
    assert.notEqual(elsewhere.body.name, a.body.name);
    assert.equal(t.store.runs.size, 2);
  });

  it("refuses a key that is not 1 to 255 printable characters, an empty one too", async () => {
    for (const [route, key] of [["/runs", "with space"], ["/runs", ""], ["/execute", ""]]) {
      const res = await t.http.post(route!).set("Idempotency-Key", key!).send({ script: SCRIPT });
      assert.equal(res.status, 400, `${route} ${JSON.stringify(key)}`);
      assert.match(res.body.error.message, /Idempotency-Key must be 1 to 255 printable ASCII characters/);
    }
    assert.equal(t.store.runs.size, 0);
  });
});

describe("an Idempotency-Key of two callers", () => {
  let t: TestApp;
  afterEach(() => t.close());

  it("is each caller's own: the same key from another caller starts another run", async () => {
    const reviews = new ScriptedReviews();
    for (const user of ["alice", "bob"]) {
      reviews.users.set(`${user}-token`, { username: user });
      reviews.grant(user, ["create", "get"], "default");
    }
    t = testApp({ auth: new KubernetesAuth(reviews, 1) });
    const post = (user: string) => t.http.post("/runs").set("Authorization", `Bearer ${user}-token`).set("Idempotency-Key", "order-1").send({ script: SCRIPT });
    const [alice, bob, aliceAgain] = [await post("alice"), await post("bob"), await post("alice")];
    assert.deepEqual([alice.status, bob.status, aliceAgain.status], [202, 202, 202]);
    assert.notEqual(bob.body.name, alice.body.name);
    assert.equal(aliceAgain.body.name, alice.body.name);
    assert.equal(t.store.runs.size, 2);
  });
});

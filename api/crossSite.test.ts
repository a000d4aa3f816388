// What pages of other sites can make a browser send: a run posted by a form or fetch from another
// origin, and a page rebound to 127.0.0.1 reading runs. The API here has no authentication, as
// `make up` runs it, which is where nothing else stops either.
import assert from "node:assert/strict";
import { KubernetesAuth } from "./auth.js";
import { ScriptedReviews, type TestApp, testApp } from "./testkit.js";

const SCRIPT = "def main():\n    return 1\n";

describe("requests pages of other sites send", () => {
  let t: TestApp;
  afterEach(() => t?.close());

  it("refuses a run posted by a form of another site, creating nothing", async () => {
    t = testApp();
    const res = await t.http.post("/runs").set("Origin", "https://pages.example").set("Sec-Fetch-Site", "cross-site")
      .field("script", SCRIPT);
    assert.equal(res.status, 403);
    assert.equal(res.body.error.type, "forbidden");
    assert.match(res.body.error.message, /another origin \(https:\/\/pages\.example\).*SCRIPTRUN_API_CORS_ORIGINS/);
    assert.equal(t.store.runs.size, 0);
  });

  it("refuses another origin told by Origin alone (a browser without Sec-Fetch-Site), and another port of localhost", async () => {
    t = testApp();
    const port = new URL(await t.url()).port;
    const byOrigin = await t.http.post("/runs").set("Origin", "http://127.0.0.1:1").send({ script: SCRIPT });
    assert.equal(byOrigin.status, 403);
    const sameSite = await t.http.delete("/runs/run-x").set("Origin", `http://localhost:${Number(port) + 1}`).set("Sec-Fetch-Site", "same-site");
    assert.equal(sameSite.status, 403);
    const opaque = await t.http.post("/execute").set("Origin", "null").send({ script: SCRIPT });
    assert.equal(opaque.status, 403);
    assert.equal(t.store.runs.size, 0);
  });

  it("lets the API's own pages, programs, and the origins of SCRIPTRUN_API_CORS_ORIGINS post runs", async () => {
    t = testApp({ env: { SCRIPTRUN_API_CORS_ORIGINS: "https://app.example" } });
    const own = new URL(await t.url()).host;
    assert.equal((await t.http.post("/runs").set("Origin", `http://${own}`).set("Sec-Fetch-Site", "same-origin").send({ script: SCRIPT })).status, 202);
    assert.equal((await t.http.post("/runs").set("Origin", `http://${own}`).send({ script: SCRIPT })).status, 202);
    assert.equal((await t.http.post("/runs").send({ script: SCRIPT })).status, 202);
    assert.equal((await t.http.post("/runs").set("Origin", "https://app.example").set("Sec-Fetch-Site", "cross-site").send({ script: SCRIPT })).status, 202);
    assert.equal(t.store.runs.size, 4);
    // A listed origin is the whole origin.
    for (const origin of ["https://app.example.pages.example", "http://app.example", "https://app.example:8443"]) {
      assert.equal((await t.http.post("/runs").set("Origin", origin).set("Sec-Fetch-Site", "cross-site").send({ script: SCRIPT })).status, 403, origin);
    }
    assert.equal(t.store.runs.size, 4);
  });

  it("lets pages of other sites read (the answer is theirs only through CORS)", async () => {
    t = testApp();
    assert.equal((await t.http.get("/runs").set("Origin", "https://pages.example").set("Sec-Fetch-Site", "cross-site")).status, 200);
  });

  it("answers without authentication on loopback only requests addressed to a loopback name", async () => {
    t = testApp();
    const rebound = await t.http.get("/runs").set("Host", "pages.example:8080");
    assert.equal(rebound.status, 403);
    assert.match(rebound.body.error.message, /answers only requests addressed to localhost, 127\.0\.0\.1 or \[::1\], not to "pages\.example:8080"/);
    // Names a rebinding page would have: a loopback name is the whole host name, not a part of it.
    for (const host of ["localhost.pages.example", "127.0.0.1.pages.example:8080", "pages.localhost.example", "127.0.0.1.1"]) {
      assert.equal((await t.http.get("/runs").set("Host", host)).status, 403, host);
    }
    for (const host of ["localhost:8080", "127.0.0.1", "[::1]:8080", "LOCALHOST"]) {
      assert.equal((await t.http.get("/runs").set("Host", host)).status, 200, host);
    }
  });

  it("leaves the Host alone with authentication, or when the API listens beyond loopback", async () => {
    const reviews = new ScriptedReviews();
    reviews.users.set("alice-token", { username: "alice" });
    reviews.grant("alice", ["list"], "default");
    t = testApp({ auth: new KubernetesAuth(reviews, 1) });
    assert.equal((await t.http.get("/runs").set("Host", "scriptrun-api.scriptrun-system.svc:8080").set("Authorization", "Bearer alice-token")).status, 200);
    await t.close();
    t = testApp({ env: { SCRIPTRUN_API_HOST: "0.0.0.0" } });
    assert.equal((await t.http.get("/runs").set("Host", "scriptrun-api.scriptrun-system.svc:8080")).status, 200);
  });
});

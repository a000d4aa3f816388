// The playground page's routes: the page at /, its bundle under /static/, each with the
// Content-Security-Policy, revalidated by ETag; nothing else of the directory, and no auth needed.
// The files are stand-ins written here: the real bundle is built and driven in a browser by
// test/e2e/playground.test.ts.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubernetesAuth } from "./auth.js";
import { PLAYGROUND_CSP } from "./routes/playground.js";
import { ScriptedReviews, type TestApp, testApp } from "./testkit.js";

describe("the playground page's routes", () => {
  let dir: string;
  let t: TestApp;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "playground-"));
    writeFileSync(join(dir, "index.html"), "<!doctype html><title>ScriptRun playground</title>");
    writeFileSync(join(dir, "main.js"), "console.log('page')");
    writeFileSync(join(dir, "style.css"), "body{}");
    writeFileSync(join(dir, ".inputs"), "stamp");
    // With Kubernetes auth on: the page itself needs no token.
    t = testApp({ env: { SCRIPTRUN_API_PLAYGROUND_DIR: dir, SCRIPTRUN_API_AUTH: "kubernetes" }, auth: new KubernetesAuth(new ScriptedReviews(), 0) });
  });
  afterEach(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves the page at / with a policy that allows only its own script, without a token", async () => {
    const res = await t.http.get("/");
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "text/html; charset=utf-8");
    assert.equal(res.text, "<!doctype html><title>ScriptRun playground</title>");
    const csp = res.headers["content-security-policy"] ?? "";
    assert.equal(csp, PLAYGROUND_CSP);
    assert.match(csp, /(^|; )script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /default-src 'none'/);
    assert.equal(res.headers["x-content-type-options"], "nosniff");
  });

  it("serves the bundle under /static/ with its content type", async () => {
    const js = await t.http.get("/static/main.js");
    assert.deepEqual([js.status, js.headers["content-type"], js.text], [200, "text/javascript; charset=utf-8", "console.log('page')"]);
    assert.equal(js.headers["content-security-policy"], PLAYGROUND_CSP);
    const css = await t.http.get("/static/style.css");
    assert.deepEqual([css.status, css.headers["content-type"]], [200, "text/css; charset=utf-8"]);
  });

  it("answers 304 to a reload of an unchanged file, and 200 once it changed", async () => {
    const first = await t.http.get("/static/main.js");
    const etag = first.headers.etag ?? "";
    assert.match(etag, /^"[A-Za-z0-9_-]+"$/);
    assert.equal(first.headers["cache-control"], "no-cache");
    assert.equal((await t.http.get("/static/main.js").set("If-None-Match", etag)).status, 304);
    writeFileSync(join(dir, "main.js"), "console.log('rebuilt')");
    const changed = await t.http.get("/static/main.js").set("If-None-Match", etag);
    assert.deepEqual([changed.status, changed.text], [200, "console.log('rebuilt')"]);
  });

  for (const path of ["/static/.inputs", "/static/..%2Fpackage.json", "/static/%2E%2E%2Findex.html", "/static/missing.js", "/static/index.txt", "/static/sub/main.js"]) {
    it(`answers 404 to ${path}`, async () => {
      const res = await t.http.get(path);
      assert.equal(res.status, 404, res.text);
      assert.equal(res.body.error.type, "not_found");
    });
  }

  it("says how to build the page when it is not built", async () => {
    rmSync(join(dir, "index.html"));
    const res = await t.http.get("/");
    assert.deepEqual([res.status, res.body.error.type], [404, "not_found"]);
    assert.match(res.body.error.message, /npm run build/);
  });

  it("counts the page's requests under their routes", async () => {
    await t.http.get("/");
    await t.http.get("/static/main.js");
    const metrics = (await t.http.get("/metrics")).text;
    assert.match(metrics, /scriptrun_api_requests_total\{method="GET",route="\/",status="200"\} 1/);
    assert.match(metrics, /scriptrun_api_requests_total\{method="GET",route="\/static\/:file",status="200"\} 1/);
  });
});

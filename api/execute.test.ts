// POST /execute and its aliases, in process, against the in-memory store's stand-in controller
// and the real preflight server.
import assert from "node:assert/strict";
import { ApiException, FetchError } from "@kubernetes/client-node";
import { type BehaviourCase, assertMatchesCase, loadCases } from "../test/cases.js";
import { CREATED_BY_LABEL } from "./runStore.js";
import { type TestApp, testApp } from "./testkit.js";

const PREFLIGHT_ERRORS = new Set(["syntax_error", "missing_entrypoint", "invalid_input", "disallowed_import"]);
const refusedByPreflight = (c: BehaviourCase) => c.expect.success === false && PREFLIGHT_ERRORS.has(c.expect.errorType ?? "");
const SCRIPT = "def main():\n  return 1\n";

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), "the condition never came true");
}

describe("POST /execute", () => {
  let t: TestApp;
  beforeEach(() => {
    t = testApp();
  });
  afterEach(() => t.close());

  it("creates a ScriptRun, waits for it and answers its outcome", async () => {
    t.store.outcome = () => ({ phase: "Succeeded", result: { message: "done" }, stdout: "hello world\n", stderr: "", exitCode: 0, durationMs: 12 });
    const script = "def main():\n  print('hello world')\n  return {'message': 'done'}\n";
    const res = await t.http.post("/execute").send({ script });
    assert.equal(res.status, 200);
    assert.match(res.body.name, /^run-[a-z2-7]{12}$/);
    assert.deepEqual({ ...res.body, name: "run" }, {
      name: "run", namespace: "default", success: true, phase: "Succeeded", result: { message: "done" },
      stdout: "hello world\n", stderr: "", error: null, exitCode: 0, durationMs: 12,
    });
    const run = t.store.runs.get(`default/${res.body.name}`)!;
    assert.equal(run.metadata.labels?.[CREATED_BY_LABEL], "api");
    assert.deepEqual(run.spec, { script, ttlSecondsAfterFinished: 3600 });
  });

  it("answers a run that failed with 200 and success false", async () => {
    t.store.outcome = () => ({ phase: "Failed", error: { type: "runtime_error", message: "ZeroDivisionError: division by zero" }, exitCode: 1 });
    const res = await t.http.post("/execute").send({ script: "def main():\n  return 1 / 0\n" });
    assert.equal(res.status, 200);
    assert.deepEqual([res.body.success, res.body.error.type, res.body.result], [false, "runtime_error", null]);
  });

  it("answers a syntax error at once with its line, creating no ScriptRun", async () => {
    const res = await t.http.post("/execute").send({ script: "def main(:\n    return 1\n" });
    assert.equal(res.status, 200);
    assert.deepEqual([res.body.success, res.body.name, res.body.error.type, res.body.error.line], [false, null, "syntax_error", 1]);
    assert.equal(t.store.runs.size, 0);
  });

  it("answers every shared case that preflight refuses without a run, and runs the others", async () => {
    // The stand-in controller's two steps at once: the cases' time is preflight's, not 40 ms of waits each.
    t.store.finishAfterMs = 0;
    for (const c of loadCases()) {
      const before = t.store.runs.size;
      const started = Date.now();
      const res = await t.http.post("/execute").send(c.request);
      assert.equal(res.status, 200, `${c.name}: ${JSON.stringify(res.body)}`);
      if (refusedByPreflight(c)) {
        assertMatchesCase(c, res.body, (Date.now() - started) / 1000);
        assert.equal(t.store.runs.size, before, `${c.name} created a run`);
      } else {
        assert.equal(t.store.runs.size, before + 1, `${c.name} created no run`);
        assert.equal(t.store.runs.get(`default/${res.body.name}`)!.spec.script, c.request.script);
      }
    }
  });

  it("runs plain code sent as code in script mode, and code with a mode as asked", async () => {
    const plain = "import math\nprint(math.sqrt(16))\n";
    const res = await t.http.post("/execute").send({ code: plain });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { spec } = t.store.runs.get(`default/${res.body.name}`)!;
    assert.deepEqual([spec.script, spec.mode], [plain, "script"]);
    const asFunction = await t.http.post("/execute").send({ code: SCRIPT, mode: "function" });
    assert.equal(t.store.runs.get(`default/${asFunction.body.name}`)!.spec.mode, "function");
    const byScript = await t.http.post("/execute").send({ script: SCRIPT });
    assert.equal(t.store.runs.get(`default/${byScript.body.name}`)!.spec.mode, undefined);
  });

  it("calls the function params names when code comes with params", async () => {
    const res = await t.http.post("/execute").send({ code: "def add(a, b):\n    return a + b\nadd\n", params: { a: 1, b: 2 } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { spec } = t.store.runs.get(`default/${res.body.name}`)!;
    assert.deepEqual([spec.mode, spec.entrypoint, spec.kwargs], [undefined, "add", { a: 1, b: 2 }]);
  });

  it("puts the run in the namespace the request names", async () => {
    const res = await t.http.post("/execute").send({ script: SCRIPT, namespace: "team-a" });
    assert.equal(res.status, 200);
    assert.equal(res.body.namespace, "team-a");
    assert.ok(t.store.runs.has(`team-a/${res.body.name}`));
  });

  it("calls the function the last line names, with params as keyword arguments", async () => {
    const res = await t.http.post("/execute").send({ script: "def custom(name):\n    return 'Hello, ' + name\n\ncustom\n", params: { name: "Alice" } });
    assert.equal(res.status, 200);
    const { spec } = t.store.runs.get(`default/${res.body.name}`)!;
    assert.deepEqual([spec.script, spec.entrypoint, spec.kwargs, spec.args],
      ["def custom(name):\n    return 'Hello, ' + name\n\n", "custom", { name: "Alice" }, undefined]);
  });

  it("passes params given as an array as positional arguments", async () => {
    const res = await t.http.post("/execute").send({ script: "def add(a, b):\n    return a + b\nadd", params: [1, 2] });
    assert.equal(res.status, 200);
    const { spec } = t.store.runs.get(`default/${res.body.name}`)!;
    assert.deepEqual([spec.entrypoint, spec.args, spec.kwargs], ["add", [1, 2], undefined]);
  });

  it("takes integers a double holds exactly, past 2^53 too, and numbers with a fraction or an exponent, as JavaScript reads them", async () => {
    const res = await t.http.post("/execute").set("Content-Type", "application/json")
      .send('{"script": "def main(*a):\\n    return 1\\n", "args": [9007199254740991, -9007199254740991, 9007199254740994, 100000000000000000000, 1e20, 1e300, 12345678901234567890.5, "12345678901234567890"]}');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { spec } = t.store.runs.get(`default/${res.body.name}`)!;
    assert.deepEqual(spec.args, [9007199254740991, -9007199254740991, 9007199254740994, 1e20, 1e20, 1e300, 12345678901234567890.5, "12345678901234567890"]);
  });

  it("passes a member named __proto__ on as data, at the top of kwargs or params and within values", async () => {
    const members = '{"__proto__": {"polluted": true}, "b": [{"__proto__": 1}]}';
    const json = await t.http.post("/execute").set("Content-Type", "application/json")
      .send(`{"script": "def main(**kw):\\n    return 1\\n", "kwargs": ${members}}`);
    const params = await t.http.post("/execute").set("Content-Type", "application/json")
      .send(`{"code": "def f(**kw):\\n    return 1\\nf\\n", "params": ${members}}`);
    const form = await t.http.post("/execute").field("script", "def main(**kw):\n    return 1\n").field("kwargs", members);
    for (const res of [json, params, form]) {
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const { spec } = t.store.runs.get(`default/${res.body.name}`)!;
      assert.equal(JSON.stringify(spec.kwargs), JSON.stringify(JSON.parse(members)));
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it("leaves a script alone when its last line is a statement, not a name", async () => {
    const res = await t.http.post("/execute").send({ script: "def main(x):\n    pass\n", params: { x: 1 } });
    assert.equal(res.status, 200);
    const { spec } = t.store.runs.get(`default/${res.body.name}`)!;
    assert.deepEqual([spec.script, spec.entrypoint, spec.kwargs], ["def main(x):\n    pass\n", undefined, { x: 1 }]);
  });

  it("refuses, through preflight, a params call whose named function does not exist", async () => {
    const res = await t.http.post("/execute").send({ script: "def custom():\n    return 1\nmissing\n", params: {} });
    assert.equal(res.status, 200);
    assert.equal(res.body.error.type, "missing_entrypoint");
    assert.deepEqual(res.body.error.availableFunctions, ["custom"]);
  });

  it("answers 504 naming the run when it does not finish in time, and the run can be fetched later", async () => {
    t.store.outcome = () => undefined;
    const res = await t.http.post("/execute").send({ script: SCRIPT, waitSeconds: 1 });
    assert.equal(res.status, 504);
    assert.deepEqual([res.body.error.type, res.body.error.namespace], ["wait_timeout", "default"]);
    const later = await t.http.get(`/runs/${res.body.error.name}`);
    assert.equal(later.status, 200);
    assert.equal(later.body.phase, "Running");
  });

  it("answers 410 when the run is deleted while it is awaited", async () => {
    t.store.outcome = (run) => {
      t.store.remove(run.metadata.namespace!, run.metadata.name!);
      return undefined;
    };
    const res = await t.http.post("/execute").send({ script: SCRIPT });
    assert.equal(res.status, 410);
    assert.equal(res.body.error.type, "run_deleted");
    assert.match(res.body.error.name, /^run-/);
  });

  it("answers 503 with Retry-After when the cluster cannot be reached, and holds no wait", async () => {
    t.store.failure = new FetchError("request to https://10.0.0.1/apis failed, reason: connect ECONNREFUSED", "system", { code: "ECONNREFUSED" } as never);
    const res = await t.http.post("/execute").send({ script: SCRIPT });
    assert.equal(res.status, 503);
    assert.equal(res.body.error.type, "cluster_unavailable");
    assert.equal(res.headers["retry-after"], "2");
    assert.equal(t.waiter.inFlight, 0);
  });

  describe("when the create's answer is lost", () => {
    const noAnswer = () => Object.assign(new Error("The operation was aborted."), { name: "AbortError" });

    it("answers with the run the create made all the same, making no second one", async () => {
      t.store.createLost = { err: noAnswer(), made: true };
      const res = await t.http.post("/execute").send({ script: SCRIPT });
      assert.deepEqual([res.status, res.body.success, res.body.result], [200, true, "ok"]);
      assert.equal(t.store.runs.size, 1);
      assert.equal(t.waiter.inFlight, 0);
    });

    it("answers 400 naming the namespace when it does not exist, and 503 when the cluster lacks the resource", async () => {
      const missing = (details: string) => new ApiException(404, "Not Found", `{"kind":"Status","message":"not found","reason":"NotFound",${details}"code":404}`, {});
      for (const route of ["/execute", "/runs"]) {
        t.store.createLost = { err: missing('"details":{"name":"nope","kind":"namespaces"},'), made: false };
        const res = await t.http.post(route).send({ script: SCRIPT, namespace: "nope" });
        assert.deepEqual([res.status, res.body.error.type, res.body.error.message], [400, "invalid_input", "Namespace nope does not exist"], route);
        assert.deepEqual(res.body.error.issues, [{ path: ["namespace"], message: "Namespace nope does not exist" }]);
      }
      t.store.createLost = { err: missing('"details":{"group":"scriptrun.dev","kind":"scriptruns"},'), made: false };
      const res = await t.http.post("/runs").send({ script: SCRIPT });
      assert.notEqual(res.status, 400);
      assert.equal(t.store.runs.size, 0);
    });

    it("answers POST /runs 202 with the run the create made", async () => {
      t.store.createLost = { err: new ApiException(504, "Gateway Timeout", '{"kind":"Status","message":"Timeout: request did not complete within requested timeout"}', {}), made: true };
      const res = await t.http.post("/runs").send({ script: SCRIPT });
      assert.equal(res.status, 202);
      assert.ok(t.store.runs.has(`default/${res.body.name}`));
      assert.equal(t.store.runs.size, 1);
    });

    it("answers 503 naming the run it may yet have made when none is found", async () => {
      t.store.createLost = { err: noAnswer(), made: false };
      const res = await t.http.post("/execute").send({ script: SCRIPT });
      assert.deepEqual([res.status, res.body.error.type, res.headers["retry-after"]], [503, "cluster_unavailable", "2"]);
      assert.match(res.body.error.name, /^run-/);
      assert.equal(res.body.error.namespace, "default");
      assert.match(res.body.error.message, new RegExp(`did not answer in time, and run ${res.body.error.name} may have been created all the same: GET /runs/${res.body.error.name}\\?namespace=default`));
      assert.equal(t.waiter.inFlight, 0);
    });

    it("does not look for a run when the request never reached the cluster", async () => {
      t.store.createLost = { err: new FetchError("connect ECONNREFUSED", "system", { code: "ECONNREFUSED" } as never), made: false };
      const res = await t.http.post("/execute").send({ script: SCRIPT });
      assert.deepEqual([res.status, res.body.error.type, res.body.error.name], [503, "cluster_unavailable", undefined]);
      assert.doesNotMatch(res.body.error.message, /may have been created/);
    });
  });

  it("finds a run that finished while the watch was down once the watch restarts", async () => {
    t.store.outcome = (run) => {
      t.store.setStatus(run.metadata.namespace!, run.metadata.name!, { phase: "Succeeded", result: 42 }, true);
      setTimeout(() => t.store.resync(), 50);
      return undefined;
    };
    const res = await t.http.post("/execute").send({ script: "def main():\n  return 42\n", waitSeconds: 5 });
    assert.equal(res.status, 200);
    assert.equal(res.body.result, 42);
  });

  it("answers even when the watch stops silently, after the re-check interval", async function () {
    this.timeout(5000);
    const quiet = testApp({ env: { SCRIPTRUN_API_RECHECK_SECONDS: "1" } });
    try {
      quiet.store.outcome = (run) => {
        quiet.store.setStatus(run.metadata.namespace!, run.metadata.name!, { phase: "Succeeded", result: 7 }, true);
        return undefined;
      };
      const res = await quiet.http.post("/execute").send({ script: SCRIPT, waitSeconds: 5 });
      assert.deepEqual([res.status, res.body.result], [200, 7]);
    } finally {
      await quiet.close();
    }
  });

  it("frees the wait when the client hangs up", async () => {
    t.store.outcome = () => undefined;
    const hangUp = new AbortController();
    const pending = fetch(`${await t.url()}/execute`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ script: SCRIPT }), signal: hangUp.signal,
    }).catch(() => "hung up");
    await until(() => t.waiter.inFlight === 1);
    hangUp.abort();
    assert.equal(await pending, "hung up");
    await until(() => t.waiter.inFlight === 0);
  });
});

describe("the cap on concurrent waits", () => {
  it("answers 429 with Retry-After past the cap, and takes requests again once a wait ends", async function () {
    this.timeout(5000);
    const t = testApp({ env: { SCRIPTRUN_API_MAX_CONCURRENT_WAITS: "2" } });
    try {
      t.store.outcome = () => undefined;
      const waiting = [1, 2].map(() => t.http.post("/execute").send({ script: SCRIPT, waitSeconds: 1 }).then((r) => r));
      await until(() => t.waiter.inFlight === 2);
      const refused = await t.http.post("/execute").send({ script: SCRIPT });
      assert.equal(refused.status, 429);
      assert.equal(refused.body.error.type, "too_many_waits");
      assert.equal(refused.headers["retry-after"], "2");
      assert.deepEqual((await Promise.all(waiting)).map((r) => r.status), [504, 504]);
      t.store.outcome = () => ({ phase: "Succeeded", result: 1 });
      assert.equal((await t.http.post("/execute").send({ script: SCRIPT })).status, 200);
    } finally {
      await t.close();
    }
  });
});

describe("the drop-in aliases", () => {
  let t: TestApp;
  beforeEach(() => {
    t = testApp();
  });
  afterEach(() => t.close());

  it("POST /scripts runs the script as __main__", async () => {
    t.store.outcome = () => ({ phase: "Succeeded", stdout: "hi\n" });
    const res = await t.http.post("/scripts").send({ script: "print('hi')\n" });
    assert.equal(res.status, 200);
    assert.equal(res.body.stdout, "hi\n");
    assert.equal(t.store.runs.get(`default/${res.body.name}`)!.spec.mode, "script");
  });

  it("POST /scripts takes the script as an uploaded file", async () => {
    const res = await t.http.post("/scripts").attach("file", Buffer.from("print('from a file')\n"), "job.py");
    assert.equal(res.status, 200);
    const { spec } = t.store.runs.get(`default/${res.body.name}`)!;
    assert.deepEqual([spec.script, spec.mode], ["print('from a file')\n", "script"]);
  });

  it("POST /scripts refuses a field that only function mode has", async () => {
    const res = await t.http.post("/scripts").send({ script: "print(1)\n", entrypoint: "main" });
    assert.equal(res.status, 400);
    assert.match(res.body.error.message, /Unrecognized key: "entrypoint"/);
  });

  it("POST /params calls the named function with params", async () => {
    const res = await t.http.post("/params").send({ script: "def greet(name, punct='.'):\n    return f'Hi {name}{punct}'\ngreet\n", params: { name: "Bob", punct: "!" } });
    assert.equal(res.status, 200);
    const { spec } = t.store.runs.get(`default/${res.body.name}`)!;
    assert.deepEqual([spec.entrypoint, spec.kwargs], ["greet", { name: "Bob", punct: "!" }]);
  });

  it("POST /params without params calls the named function with none", async () => {
    const res = await t.http.post("/params").send({ script: "def hello():\n    return 'hi'\nhello\n" });
    assert.equal(res.status, 200);
    const { spec } = t.store.runs.get(`default/${res.body.name}`)!;
    assert.deepEqual([spec.entrypoint, spec.kwargs], ["hello", {}]);
  });

  it("POST /execute takes form data: the script as a file, other fields as text", async () => {
    const res = await t.http.post("/execute")
      .attach("file", Buffer.from("def custom(a, b):\n    return a * b\n"), "mul.py")
      .field("entrypoint", "custom").field("args", "[6, 7]").field("timeoutSeconds", "5");
    assert.equal(res.status, 200);
    const { spec } = t.store.runs.get(`default/${res.body.name}`)!;
    assert.deepEqual([spec.entrypoint, spec.args, spec.timeoutSeconds], ["custom", [6, 7], 5]);
  });

  it("GET /health answers status, service and version", async () => {
    const res = await t.http.get("/health");
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { status: "ok", service: "scriptrun-api", version: t.config.version });
  });
});

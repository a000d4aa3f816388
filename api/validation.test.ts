// Every malformed body, wrong type, unknown field, oversized script or wrong content type gets a
// 4xx in the one error shape, with a reason, and creates nothing: never a 500, never a hang.
import assert from "node:assert/strict";
import { connect } from "node:net";
import type { Response } from "supertest";
import { aRuntime, testRuntimes } from "../core/testkit.js";
import { type TestApp, testApp } from "./testkit.js";

const SCRIPT = "def main():\n    return 1\n";

function assertRefused(res: Response, status: number, type: string, reason: RegExp): void {
  const why = JSON.stringify({ status: res.status, body: res.body });
  assert.equal(res.status, status, why);
  assert.equal(res.type, "application/json", why);
  assert.equal(res.body.error.type, type, why);
  assert.match(res.body.error.message, reason, why);
}

describe("bad requests", () => {
  let t: TestApp;
  beforeEach(() => {
    t = testApp({
      env: { SCRIPTRUN_MAX_SCRIPT_BYTES: "1000", SCRIPTRUN_API_MAX_BODY_BYTES: "4096" },
      runtimes: testRuntimes(aRuntime("python", { maxima: { timeoutSeconds: 60 } }), aRuntime("small", { defaults: { memory: "32Mi" }, maxima: { memory: "64Mi" } }),
        aRuntime("team-only", { namespaceSelector: { matchLabels: { team: "a" } } })),
    });
  });
  afterEach(async () => {
    assert.equal(t.store.runs.size, 0, "a refused request created a run");
    await t.close();
  });

  const invalidBodies: Array<[string, unknown, RegExp]> = [
    ["a missing script", { mode: "function" }, /script: script is required/],
    ["an empty script", { script: "" }, /script: Too small/],
    ["a script that is not a string", { script: 42 }, /script: Invalid input: expected string, received number/],
    ["both script and code", { script: SCRIPT, code: SCRIPT }, /code: give script or code, not both/],
    ["code with args but no mode", { code: SCRIPT, args: [1] }, /mode: code without mode runs as a plain script, which takes no args; set mode to function/],
    ["an unknown field", { script: SCRIPT, language: "python" }, /Unrecognized key: "language"/],
    ["an unknown mode", { script: SCRIPT, mode: "notebook" }, /mode: Invalid option/],
    ["an entrypoint that is not an identifier", { script: SCRIPT, entrypoint: "main()" }, /entrypoint/],
    ["args that are not an array", { script: SCRIPT, args: { a: 1 } }, /args: Invalid input: expected array/],
    ["kwargs that are not an object", { script: SCRIPT, kwargs: [1] }, /kwargs: Invalid input: expected a JSON object, received array/],
    ["a timeout given as text", { script: SCRIPT, timeoutSeconds: "5" }, /timeoutSeconds: Invalid input: expected number/],
    ["a timeout below one second", { script: SCRIPT, timeoutSeconds: 0 }, /timeoutSeconds: Too small/],
    ["a memory that is not a quantity", { script: SCRIPT, resources: { memory: "lots" } }, /resources.memory: must be a Kubernetes quantity, such as 500m or 2 for CPU and 256Mi or 1Gi for memory/],
    ["an unknown resource", { script: SCRIPT, resources: { gpu: "1" } }, /resources: Unrecognized key: "gpu"/],
    ["a namespace that cannot exist", { script: SCRIPT, namespace: "Not_A_Namespace" }, /namespace/],
    ["a wait past the cap", { script: SCRIPT, waitSeconds: 61 }, /waitSeconds: Too big/],
    ["params that are neither object nor array", { script: SCRIPT, params: "Alice" }, /params/],
    ["params with args", { script: SCRIPT, params: {}, args: [1] }, /params: give params or args\/kwargs, not both/],
    ["params in script mode", { script: SCRIPT, params: {}, mode: "script" }, /params calls a function/],
    ["params whose last line disagrees with the entrypoint", { script: `${SCRIPT}other\n`, params: {}, entrypoint: "main" }, /last line names other/],
    ["a JSON array instead of an object", [SCRIPT], /expected object, received array/],
  ];
  for (const [what, body, reason] of invalidBodies) {
    it(`answers 400 to ${what}`, async () => {
      assertRefused(await t.http.post("/execute").send(body as object), 400, "invalid_input", reason);
    });
  }

  it("lists every issue, with its path", async () => {
    const res = await t.http.post("/execute").send({ script: 1, mode: "x", extra: true });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body.error.issues.map((i: { path: string[] }) => i.path.join(".")).sort(), ["", "mode", "script"]);
  });

  it("answers 400 to arguments nested past the harness's cap, with or without an Idempotency-Key", async () => {
    const deep = `${"[".repeat(1500)}${"]".repeat(1500)}`;
    for (const key of ["abc", undefined]) {
      const post = t.http.post("/execute").set("Content-Type", "application/json");
      const res = await (key ? post.set("Idempotency-Key", key) : post).send(`{"script": "def main(x):\\n    return 1\\n", "args": [${deep}]}`);
      assertRefused(res, 400, "invalid_input", /^args holds a value nested more than 100 levels deep/);
      assert.deepEqual(res.body.error.issues.map((i: { path: string[] }) => i.path), [["args"]]);
    }
  });

  it("answers 400 to query parameters on a run request, which would otherwise be passed over", async () => {
    for (const route of ["/execute", "/runs"]) {
      const res = await t.http.post(`${route}?namespace=kube-system`).send({ script: SCRIPT });
      assertRefused(res, 400, "invalid_input", new RegExp(`^POST ${route} takes no query parameters \\(namespace\\); give the run's fields, namespace among them, in the body$`));
    }
  });

  it("names a bad query parameter as one, not as the body", async () => {
    assertRefused(await t.http.get("/runs/run-x?foo=1"), 400, "invalid_input", /^query: Unrecognized key: "foo"$/);
    assertRefused(await t.http.get("/runs?limit=0"), 400, "invalid_input", /^query parameter limit: Too small/);
  });

  it("answers 400 to a form field given twice, or named with brackets, saying which", async () => {
    const twice = await t.http.post("/execute").field("script", SCRIPT).field("stdin", "a").field("stdin", "b");
    assertRefused(twice, 400, "invalid_input", /^Form field stdin was given more than once$/);
    const brackets = await t.http.post("/execute").field("script", SCRIPT).field("kwargs[a]", "1");
    assertRefused(brackets, 400, "invalid_input", /^Form field kwargs\[...\]: a field's name is one of the body's fields, without brackets; send kwargs as JSON text$/);
  });

  it("answers 400 to an empty JSON body, saying so", async () => {
    const res = await t.http.post("/execute").set("Content-Type", "application/json").send(" ");
    assertRefused(res, 400, "invalid_input", /^The body is empty; send a JSON object$/);
  });

  it("answers 400 to a body that is not JSON", async () => {
    const res = await t.http.post("/execute").set("Content-Type", "application/json").send('{"script": "def main(): pass",');
    assertRefused(res, 400, "invalid_input", /not valid JSON/);
  });

  it("answers 400 to a timeout above every runtime's maximum, naming the maximum", async () => {
    assertRefused(await t.http.post("/execute").send({ script: SCRIPT, timeoutSeconds: 400 }), 400, "invalid_input", /timeoutSeconds 400 exceeds the maximum of 300 of every runtime/);
  });

  it("answers 400 to a request above its own runtime's maximum, naming the runtime and the limit", async () => {
    assertRefused(await t.http.post("/execute").send({ script: SCRIPT, timeoutSeconds: 120 }), 400, "invalid_input", /timeoutSeconds 120 exceeds the maximum of 60 of runtime "python"/);
    const memory = await t.http.post("/runs").send({ script: SCRIPT, runtime: "small", resources: { memory: "128Mi" } });
    assertRefused(memory, 400, "invalid_input", /resources.memory 128Mi exceeds the maximum of 64Mi of runtime "small"/);
    assert.deepEqual(memory.body.error.issues.map((i: { path: string[] }) => i.path), [["resources", "memory"]]);
  });

  it("answers 400 to an unknown runtime, and to one the namespace may not use, before any run", async () => {
    assertRefused(await t.http.post("/execute").send({ script: SCRIPT, runtime: "python-gpu" }), 400, "invalid_input",
      /runtime "python-gpu" does not exist; the runtimes this namespace may use are: python, small$/);
    assertRefused(await t.http.post("/execute").send({ script: SCRIPT, runtime: "team-only" }), 400, "invalid_input",
      /runtime "team-only" may not be used in namespace "default": its namespaceSelector does not match/);
  });

  it("answers 413 to a script above the configured size", async () => {
    assertRefused(await t.http.post("/execute").send({ script: `# ${"x".repeat(1200)}\n${SCRIPT}` }), 413, "too_large", /script is \d+ bytes; at most 1000/);
  });

  it("counts the script's size in UTF-8 bytes", async () => {
    assertRefused(await t.http.post("/execute").send({ code: `# ${"é".repeat(600)}\n${SCRIPT}` }), 413, "too_large", /code is \d+ bytes/);
  });

  it("answers 413 to a body above the configured size", async () => {
    assertRefused(await t.http.post("/execute").send({ script: SCRIPT, stdin: "x".repeat(5000) }), 413, "too_large", /larger than the 4096 bytes/);
  });

  it("answers 413 to an uploaded file above the configured size", async () => {
    const res = await t.http.post("/execute").attach("file", Buffer.alloc(5000, "#"), "big.py");
    assertRefused(res, 413, "too_large", /larger than the 4096 bytes/);
  });

  it("answers 413 to a form above the configured size whose every part is within it", async () => {
    const res = await t.http.post("/execute").field("script", SCRIPT).field("stdin", "x".repeat(3000)).field("args", `["${"y".repeat(3000)}"]`);
    assertRefused(res, 413, "too_large", /larger than the 4096 bytes/);
  });

  it("answers 413 to a form above the configured size sent without a length, and reads the next request on its connection", async () => {
    // As a client that sends all before it reads: the rest of the form must be read and dropped.
    const { hostname, port } = new URL(await t.url());
    const socket = connect(Number(port), hostname);
    const boundary = "b0undary";
    const part = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    const form = `${part("script", SCRIPT)}${part("stdin", "x".repeat(200_000))}--${boundary}--\r\n`;
    socket.write(`POST /execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nTransfer-Encoding: chunked\r\n\r\n`);
    for (let at = 0; at < form.length; at += 1000) {
      const chunk = form.slice(at, at + 1000);
      socket.write(`${Buffer.byteLength(chunk).toString(16)}\r\n${chunk}\r\n`);
    }
    socket.write("0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let answers = "";
    socket.setTimeout(3000, () => socket.destroy());
    await new Promise<void>((resolve) => {
      socket.on("data", (data: Buffer) => {
        answers += data.toString();
        if ((answers.match(/HTTP\/1\.1 \d{3} /g) ?? []).length === 2) resolve();
      });
      socket.on("close", () => resolve());
    });
    socket.destroy();
    assert.deepEqual([...answers.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]), ["413", "200"]);
    assert.match(answers, /"type":"too_large","message":"The body is larger than the 4096 bytes allowed"/);
  });

  it("answers 413 to an uploaded script above the script size", async () => {
    const res = await t.http.post("/execute").attach("file", Buffer.from(`# ${"x".repeat(1200)}\n${SCRIPT}`), "big.py");
    assertRefused(res, 413, "too_large", /script is \d+ bytes/);
  });

  for (const type of ["text/plain", "application/xml", "application/x-www-form-urlencoded"]) {
    it(`answers 415 to a ${type} body`, async () => {
      const res = await t.http.post("/execute").set("Content-Type", type).send("script=print(1)");
      assertRefused(res, 415, "unsupported_media_type", new RegExp(`Content-Type ${type} is not accepted`));
    });
  }

  it("answers 415 to a body without a content type", async () => {
    assertRefused(await t.http.post("/execute"), 415, "unsupported_media_type", /Content-Type none/);
  });

  it("answers 400 to a form whose file is under another name", async () => {
    const res = await t.http.post("/execute").attach("script", Buffer.from(SCRIPT), "a.py");
    assertRefused(res, 400, "invalid_input", /Unexpected file field 'script'/);
  });

  it("answers 400, not 413, to a small form with more fields than a run request has", async () => {
    let form = t.http.post("/execute").field("script", SCRIPT);
    for (let i = 0; i < 21; i++) form = form.field(`x${i}`, "1");
    assertRefused(await form, 400, "invalid_input", /^Too many fields; a form takes the fields of the JSON body/);
  });

  it("answers 400 to a form field that should be JSON and is not", async () => {
    const res = await t.http.post("/execute").field("script", SCRIPT).field("args", "[1, 2");
    assertRefused(res, 400, "invalid_input", /args must be JSON text/);
  });

  it("answers 400, not a changed number, to an integer a double does not hold exactly or a number past the largest double, in a JSON body or a form's JSON field", async () => {
    const json = await t.http.post("/runs").set("Content-Type", "application/json")
      .send('{"script": "def main(n):\\n    return n\\n", "kwargs": {"n": 12345678901234567890}}');
    assertRefused(json, 400, "invalid_input", /^The body: the integer 12345678901234567890 would become 12345678901234567000: .*; send it as a string$/);
    const form = await t.http.post("/runs").field("script", SCRIPT).field("args", "[1, -9007199254740993]");
    assertRefused(form, 400, "invalid_input", /^Form field args: the integer -9007199254740993 would become -9007199254740992: /);
    assert.deepEqual(form.body.error.issues[0].path, ["args"]);
    const huge = await t.http.post("/runs").set("Content-Type", "application/json").send('{"script": "def main(n):\\n    return n\\n", "args": [1e400]}');
    assertRefused(huge, 400, "invalid_input", /^The body: the number 1e400 would become null: /);
  });

  it("answers 400 to a script given both as a file and as a field", async () => {
    const res = await t.http.post("/execute").field("code", SCRIPT).attach("file", Buffer.from(SCRIPT), "a.py");
    assertRefused(res, 400, "invalid_input", /not both/);
  });

  it("answers 400 to an uploaded file that is not UTF-8 text", async () => {
    const res = await t.http.post("/execute").attach("file", Buffer.from([0xff, 0xfe, 0x00, 0x41]), "a.py");
    assertRefused(res, 400, "invalid_input", /not UTF-8/);
  });

  it("answers 400 to a form that breaks off", async () => {
    const res = await t.http.post("/execute").set("Content-Type", "multipart/form-data; boundary=XYZ")
      .send('--XYZ\r\nContent-Disposition: form-data; name="script"\r\n\r\nprint(1)');
    assertRefused(res, 400, "invalid_input", /form could not be read/);
  });

  it("answers 404 in the error shape to an unknown path", async () => {
    assertRefused(await t.http.get("/nowhere"), 404, "not_found", /No route for GET \/nowhere/);
  });

  it("answers 405 with Allow to a known path and the wrong method", async () => {
    const res = await t.http.get("/execute");
    assertRefused(res, 405, "method_not_allowed", /GET is not allowed on \/execute/);
    assert.equal(res.headers.allow, "POST");
  });

  it("answers 400 to a run name that cannot exist, and to bad or unknown query parameters", async () => {
    assertRefused(await t.http.get("/runs/Bad_Name"), 400, "invalid_input", /not a run name/);
    assertRefused(await t.http.get("/runs?limit=0"), 400, "invalid_input", /limit: Too small/);
    assertRefused(await t.http.get("/runs?sort=name"), 400, "invalid_input", /Unrecognized key: "sort"/);
  });
});

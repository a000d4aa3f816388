import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PreflightClient, PreflightError, defaultRunnerPath } from "./preflight.js";

// A stand-in for `runner.py --preflight-server` speaking the same JSON-lines protocol, with
// scripts that make it misbehave on purpose.
const FAKE_SERVER = `
import json, os, sys, time
assert sys.argv[1:] == ["--preflight-server"], sys.argv
flips = 0
for line in sys.stdin:
    script = json.loads(line)["script"]
    if script == "flip":  # refused every other time it is asked
        flips += 1
        script = "def main(): pass" if flips % 2 else "refused"
    if script == "dies once":  # the first time, in any child
        seen = os.path.join(os.path.dirname(__file__), "died-once")
        if not os.path.exists(seen):
            open(seen, "w").close(); sys.exit(4)
        script = "def main(): pass"
    if script == "die":
        sys.stderr.write("harness broke\\n"); sys.stderr.flush(); sys.exit(3)
    if script == "hang":
        time.sleep(60)
    if script == "garbage":
        print("this is not json", flush=True); continue
    if script.startswith("def main"):
        print(json.dumps({"ok": True}), flush=True)
    else:
        print(json.dumps({"ok": False, "error": {"type": "missing_entrypoint", "message": "no main", "line": None,
              "traceback": None, "suggestions": None, "availableFunctions": ["other"]}}), flush=True)
`;

const dir = mkdtempSync(join(tmpdir(), "preflight-test-"));
const fakeRunner = join(dir, "runner.py");
writeFileSync(fakeRunner, FAKE_SERVER);

const request = (script: string) => ({ script, mode: "function" as const, entrypoint: "main" });

describe("the preflight client", function () {
  // Real Python children, waited for on purpose (1.5 s timeouts): mocha's 2 s default is too
  // tight once the machine is busy, though nothing asserted here is a duration.
  this.timeout(15_000);
  let client: PreflightClient;
  beforeEach(() => {
    client = new PreflightClient({ runnerPath: fakeRunner, timeoutMs: 3000 });
  });
  afterEach(() => client.close());

  it("answers pipelined requests in order", async () => {
    const answers = await Promise.all(["def main(): pass", "def other(): pass", "def main(): return 2"].map((s) => client.check(request(s))));
    assert.deepEqual(answers.map((a) => a.ok), [true, false, true]);
  });

  it("gives the harness's error with its nulls dropped", async () => {
    assert.deepEqual(await client.check(request("def other(): pass")), {
      ok: false, error: { type: "missing_entrypoint", message: "no main", suggestions: [], availableFunctions: ["other"] },
    });
  });

  it("fails the check a server died on, saying why, and starts a new one for the next", async () => {
    await assert.rejects(client.check(request("die")), (err: unknown) => err instanceof PreflightError && /code 3\): harness broke/.test(err.message));
    assert.deepEqual(await client.check(request("def main(): pass")), { ok: true });
  });

  it("fails only the check a dying server was working on: the ones queued behind it go to a fresh child", async () => {
    const single = new PreflightClient({ runnerPath: fakeRunner, timeoutMs: 3000, workers: 1 });
    try {
      const [died, queued] = await Promise.allSettled([single.check(request("die")), single.check(request("def main(): pass"))]);
      assert.equal(died.status, "rejected");
      assert.deepEqual(queued, { status: "fulfilled", value: { ok: true } });
    } finally {
      await single.close();
    }
  });

  it("gives up on a server that does not answer in time and starts a new one", async () => {
    const slow = new PreflightClient({ runnerPath: fakeRunner, timeoutMs: 1500 });
    try {
      await assert.rejects(slow.check(request("hang")), /no answer within 1500 ms/);
      assert.deepEqual(await slow.check(request("def main(): pass")), { ok: true });
    } finally {
      await slow.close();
    }
  });

  it("fails only the check that timed out: the ones queued behind it go to a fresh child", async () => {
    const single = new PreflightClient({ runnerPath: fakeRunner, timeoutMs: 1500, workers: 1 });
    try {
      const [hang, queued] = await Promise.allSettled([single.check(request("hang")), single.check(request("def main(): pass"))]);
      assert.equal(hang.status, "rejected");
      assert.deepEqual(queued, { status: "fulfilled", value: { ok: true } });
    } finally {
      await single.close();
    }
  });

  it("answers on another child while one is stuck", async () => {
    const pool = new PreflightClient({ runnerPath: fakeRunner, timeoutMs: 1000, workers: 2 });
    try {
      const order: string[] = [];
      const hang = pool.check(request("hang")).catch(() => order.push("hang"));
      await pool.check(request("def main(): pass")).then(() => order.push("ok"));
      await hang;
      assert.deepEqual(order, ["ok", "hang"]);
    } finally {
      await pool.close();
    }
  });

  it("answers a check asked again from the first answer, also while it is in flight", async () => {
    assert.deepEqual(await Promise.all([client.check(request("flip")), client.check(request("flip"))]), [{ ok: true }, { ok: true }]);
    assert.deepEqual(await client.check(request("flip")), { ok: true });
    // Another request is asked, though its script is the same.
    assert.deepEqual(await client.check({ ...request("flip"), entrypoint: "other" }), { ok: false, error: {
      type: "missing_entrypoint", message: "no main", suggestions: [], availableFunctions: ["other"] } });
  });

  it("shares an answer read-only", async () => {
    const answer = await client.check(request("def other(): pass"));
    assert.throws(() => (answer as { error: { suggestions: string[] } }).error.suggestions.push("mine"), TypeError);
    assert.deepEqual(await client.check(request("def other(): pass")), answer);
  });

  it("asks again after a check failed with the server", async () => {
    await assert.rejects(client.check(request("dies once")), /code 4/);
    assert.deepEqual(await client.check(request("dies once")), { ok: true });
  });

  it("keeps the last 1024 answers asked, dropping the one asked longest ago", async () => {
    const scripts = (from: number, count: number) => Array.from({ length: count }, (_, i) => request(`def main(): return ${from + i}`));
    const ask = (requests: ReturnType<typeof request>[]) => Promise.all(requests.map((r) => client.check(r)));
    assert.equal((await client.check(request("flip"))).ok, true);
    await ask(scripts(0, 1023));
    // Asked again, the first flip is the newest: the next answer drops the oldest script's instead.
    assert.equal((await client.check(request("flip"))).ok, true);
    await ask(scripts(1023, 1));
    assert.equal((await client.check(request("flip"))).ok, true);
    // 1 024 others later it is dropped: asked again, it is the server's second flip.
    await ask(scripts(2000, 1024));
    assert.equal((await client.check(request("flip"))).ok, false);
  });

  it("rejects a malformed answer and recovers", async () => {
    await assert.rejects(client.check(request("garbage")), /not JSON/);
    assert.deepEqual(await client.check(request("def main(): pass")), { ok: true });
  });

  it("fails clearly when the runner cannot be started", async () => {
    const broken = new PreflightClient({ runnerPath: fakeRunner, python: join(dir, "no-such-python") });
    await assert.rejects(broken.check(request("def main(): pass")), /preflight server could not run: spawn .*ENOENT/);
    await broken.close();
  });

  it("refuses checks once closed", async () => {
    await client.close();
    await assert.rejects(client.check(request("def main(): pass")), /closed/);
  });

  it("finds runner.py in this checkout, or falls back to the image's path", () => {
    assert.match(defaultRunnerPath(), /(images\/runner\/runner\.py|^\/opt\/scriptrun\/runner\.py)$/);
  });
});

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { CONFIG_VARIABLES, ConfigError, flagsToEnv, loadConfig } from "./config.js";

describe("the controller configuration", () => {
  it("has working defaults with no variables set", () => {
    const config = loadConfig({});
    assert.equal(config.maxScriptBytes, 256 * 1024);
    assert.deepEqual(config.watchNamespaces, []);
    assert.equal(config.keepPods, false);
    assert.equal(config.leaderElection.enabled, true);
    assert.equal(config.leaderElection.leaseNamespace, "default");
    assert.ok(config.leaderElection.identity.length > 0);
    assert.equal(config.sandboxBackend, "auto");
    assert.ok(config.preflight.runnerPath.endsWith("runner.py"));
  });

  it("reads every variable from the environment", () => {
    const config = loadConfig({
      SCRIPTRUN_MAX_CONCURRENT_RUNS: "4", SCRIPTRUN_WATCH_NAMESPACES: "a, b,", SCRIPTRUN_KEEP_PODS: "true",
      SCRIPTRUN_SANDBOX_BACKEND: "nsjail", SCRIPTRUN_MEMORY_HEADROOM: "128Mi", POD_NAMESPACE: "scriptrun-system",
    });
    assert.equal(config.maxConcurrentRuns, 4);
    assert.deepEqual(config.watchNamespaces, ["a", "b"]);
    assert.equal(config.keepPods, true);
    assert.equal(config.sandboxBackend, "nsjail");
    assert.equal(config.memoryHeadroom, "128Mi");
    assert.equal(config.leaderElection.leaseNamespace, "scriptrun-system");
  });

  it("lets flags override the environment", () => {
    const config = loadConfig({ SCRIPTRUN_WORKERS: "2" }, ["--workers=3", "--resync-seconds", "7"]);
    assert.equal(config.workers, 3);
    assert.equal(config.resyncSeconds, 7);
  });

  it("refuses unknown flags and flags without a value", () => {
    assert.throws(() => flagsToEnv(["--no-such-thing=1"]), /Unknown flag --no-such-thing/);
    assert.throws(() => flagsToEnv(["--workers"]), /needs a value/);
    assert.throws(() => flagsToEnv(["workers=1"]), /Unexpected argument/);
  });

  const invalid: Array<[string, Record<string, string>, RegExp]> = [
    ["a worker count that is no number", { SCRIPTRUN_WORKERS: "many" }, /SCRIPTRUN_WORKERS/],
    ["a memory headroom that is no quantity", { SCRIPTRUN_MEMORY_HEADROOM: "a lot" }, /SCRIPTRUN_MEMORY_HEADROOM/],
    ["an unknown sandbox", { SCRIPTRUN_SANDBOX_BACKEND: "chroot" }, /SCRIPTRUN_SANDBOX_BACKEND/],
    ["a boolean that is neither true nor false", { SCRIPTRUN_KEEP_PODS: "maybe" }, /SCRIPTRUN_KEEP_PODS/],
    ["a script cap above what the CRD admits", { SCRIPTRUN_MAX_SCRIPT_BYTES: String(2 * 1024 * 1024) }, /SCRIPTRUN_MAX_SCRIPT_BYTES/],
    ["a renew period too close to the lease duration", { SCRIPTRUN_RENEW_PERIOD_SECONDS: "10" }, /SCRIPTRUN_RENEW_PERIOD_SECONDS/],
    ["a log read shorter than the longest envelope", { SCRIPTRUN_MAX_LOG_BYTES: String(4 * 1024 * 1024 - 1) }, /SCRIPTRUN_MAX_LOG_BYTES/],
    ["a variable that moved to the ScriptRuntime", { SCRIPTRUN_RUNNER_IMAGE: "img:1" }, /SCRIPTRUN_RUNNER_IMAGE.*ScriptRuntime/],
  ];
  for (const [what, env, message] of invalid) {
    it(`refuses ${what}, naming the variable`, () => {
      assert.throws(() => loadConfig(env), (err: unknown) => err instanceof ConfigError && message.test(err.message));
    });
  }

  it("documents every variable in operator/README.md", () => {
    const readme = readFileSync(new URL("./README.md", import.meta.url), "utf8");
    for (const name of CONFIG_VARIABLES) assert.ok(readme.includes(`\`${name}\``), `${name} is not in operator/README.md`);
  });
});

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { CONFIG_VARIABLES, ConfigError, flagsToEnv, loadConfig } from "./config.js";

describe("the controller configuration", () => {
  it("has working defaults with no variables set", () => {
    const config = loadConfig({});
    assert.equal(config.runnerImage, "localhost/scriptrun/runner:test");
    assert.equal(config.imagePullPolicy, "IfNotPresent");
    assert.deepEqual(config.timeoutSeconds, { default: 10, max: 300 });
    assert.equal(config.maxScriptBytes, 256 * 1024);
    assert.deepEqual(config.watchNamespaces, []);
    assert.equal(config.keepPods, false);
    assert.equal(config.leaderElection.enabled, true);
    assert.equal(config.leaderElection.leaseNamespace, "default");
    assert.ok(config.leaderElection.identity.length > 0);
    assert.deepEqual(config.importPolicy, {});
    assert.equal(config.sandboxBackend, "auto");
    assert.ok(config.preflight.runnerPath.endsWith("runner.py"));
  });

  it("reads every variable from the environment", () => {
    const config = loadConfig({
      SCRIPTRUN_RUNNER_IMAGE: "registry.example/runner:1", SCRIPTRUN_MAX_CONCURRENT_RUNS: "4",
      SCRIPTRUN_WATCH_NAMESPACES: "a, b,", SCRIPTRUN_KEEP_PODS: "true", SCRIPTRUN_IMPORT_DENY: "os,subprocess",
      SCRIPTRUN_SANDBOX_BACKEND: "nsjail", SCRIPTRUN_DEFAULT_MEMORY: "128Mi", POD_NAMESPACE: "scriptrun-system",
    });
    assert.equal(config.runnerImage, "registry.example/runner:1");
    assert.equal(config.maxConcurrentRuns, 4);
    assert.deepEqual(config.watchNamespaces, ["a", "b"]);
    assert.equal(config.keepPods, true);
    assert.deepEqual(config.importPolicy, { deny: ["os", "subprocess"] });
    assert.equal(config.sandboxBackend, "nsjail");
    assert.equal(config.memory.default, "128Mi");
    assert.equal(config.leaderElection.leaseNamespace, "scriptrun-system");
  });

  it("lets flags override the environment", () => {
    const config = loadConfig({ SCRIPTRUN_WORKERS: "2" }, ["--workers=3", "--runner-image", "img:2"]);
    assert.equal(config.workers, 3);
    assert.equal(config.runnerImage, "img:2");
  });

  it("refuses unknown flags and flags without a value", () => {
    assert.throws(() => flagsToEnv(["--no-such-thing=1"]), /Unknown flag --no-such-thing/);
    assert.throws(() => flagsToEnv(["--workers"]), /needs a value/);
    assert.throws(() => flagsToEnv(["workers=1"]), /Unexpected argument/);
  });

  const invalid: Array<[string, Record<string, string>, RegExp]> = [
    ["a worker count that is no number", { SCRIPTRUN_WORKERS: "many" }, /SCRIPTRUN_WORKERS/],
    ["a memory default that is no quantity", { SCRIPTRUN_DEFAULT_MEMORY: "a lot" }, /SCRIPTRUN_DEFAULT_MEMORY/],
    ["an unknown pull policy", { SCRIPTRUN_IMAGE_PULL_POLICY: "Sometimes" }, /SCRIPTRUN_IMAGE_PULL_POLICY/],
    ["a boolean that is neither true nor false", { SCRIPTRUN_KEEP_PODS: "maybe" }, /SCRIPTRUN_KEEP_PODS/],
    ["a default above its maximum", { SCRIPTRUN_DEFAULT_TIMEOUT_SECONDS: "60", SCRIPTRUN_MAX_TIMEOUT_SECONDS: "30" }, /SCRIPTRUN_DEFAULT_TIMEOUT_SECONDS exceeds SCRIPTRUN_MAX_TIMEOUT_SECONDS/],
    ["a memory default above its maximum", { SCRIPTRUN_DEFAULT_MEMORY: "4Gi", SCRIPTRUN_MAX_MEMORY: "1Gi" }, /SCRIPTRUN_DEFAULT_MEMORY exceeds/],
    ["a script cap above what the CRD admits", { SCRIPTRUN_MAX_SCRIPT_BYTES: String(2 * 1024 * 1024) }, /SCRIPTRUN_MAX_SCRIPT_BYTES/],
    ["a renew period too close to the lease duration", { SCRIPTRUN_RENEW_PERIOD_SECONDS: "10" }, /SCRIPTRUN_RENEW_PERIOD_SECONDS/],
    ["an import name that is no module", { SCRIPTRUN_IMPORT_ALLOW: "os.path" }, /SCRIPTRUN_IMPORT_ALLOW/],
    ["a seccomp profile of no known kind", { SCRIPTRUN_RUNNER_SECCOMP_PROFILE: "Localhost" }, /SCRIPTRUN_RUNNER_SECCOMP_PROFILE/],
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

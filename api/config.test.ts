// The API's configuration: documented defaults, the controller's script cap shared, bad values named.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { API_VARIABLES, ApiConfigError, loadApiConfig } from "./config.js";

describe("the API configuration", () => {
  it("has safe defaults: loopback only, Kubernetes auth, CORS off, a 60 s wait", () => {
    const config = loadApiConfig({});
    assert.deepEqual(
      [config.host, config.port, config.auth, config.corsOrigins, config.maxWaitSeconds, config.defaultNamespace, config.runTtlSeconds],
      ["127.0.0.1", 8080, "kubernetes", [], 60, "default", 3600]);
  });

  it("holds scripts to the controller's own size cap, read from the same variable", () => {
    assert.equal(loadApiConfig({ SCRIPTRUN_MAX_SCRIPT_BYTES: "4096" }).maxScriptBytes, 4096);
  });

  it("reads lists, switches and an empty TTL", () => {
    const config = loadApiConfig({ SCRIPTRUN_API_CORS_ORIGINS: "https://a.example, *", SCRIPTRUN_API_AUTH: "none", SCRIPTRUN_API_RUN_TTL_SECONDS: "" });
    assert.deepEqual([config.corsOrigins, config.auth, config.runTtlSeconds], [["https://a.example", "*"], "none", undefined]);
  });

  it("refuses bad values, naming each variable", () => {
    assert.throws(() => loadApiConfig({ SCRIPTRUN_API_PORT: "http", SCRIPTRUN_API_AUTH: "off" }),
      (err: unknown) => err instanceof ApiConfigError && /SCRIPTRUN_API_PORT/.test(err.message) && /SCRIPTRUN_API_AUTH/.test(err.message));
    assert.throws(() => loadApiConfig({ SCRIPTRUN_MAX_SCRIPT_BYTES: "0" }), (err: unknown) => err instanceof ApiConfigError && /SCRIPTRUN_MAX_SCRIPT_BYTES/.test(err.message));
  });

  it("is not stopped by a bad value of a variable only the controller reads", () => {
    const config = loadApiConfig({ SCRIPTRUN_LEADER_ELECTION: "maybe", SCRIPTRUN_SANDBOX_BACKEND: "whatever", SCRIPTRUN_MAX_SCRIPT_BYTES: "90" });
    assert.equal(config.maxScriptBytes, 90);
  });

  it("documents every variable in api/README.md", () => {
    const readme = readFileSync(new URL("./README.md", import.meta.url), "utf8");
    for (const name of API_VARIABLES) assert.ok(readme.includes(`\`${name}\``), `${name} is not documented`);
  });
});

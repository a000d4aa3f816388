// The Helm chart kept in step with the code, without a cluster: its CRD is the generated one, and
// every SCRIPTRUN_* variable the controller and the API read is either a value of the chart's
// config maps or set by the chart's templates (charts/scriptrun). test/e2e/helm.test.ts installs it.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { API_VARIABLES } from "../api/config.js";
import { CHART_CRD_PATH, CRD_PATH, renderCrd } from "../crds/generate.js";
import { CONFIG_VARIABLES } from "../operator/config.js";

const chart = resolve(dirname(fileURLToPath(import.meta.url)), "..", "charts", "scriptrun");
const templates = readdirSync(join(chart, "templates")).map((f) => readFileSync(join(chart, "templates", f), "utf8")).join("\n");
const schema = JSON.parse(readFileSync(join(chart, "values.schema.json"), "utf8")) as {
  properties: { config: { properties: object }; api: { properties: { config: { properties: object } } } };
};

// Neither a value nor set by the chart: the image or the pod decides them.
const FROM_IMAGE_OR_POD = [
  "SCRIPTRUN_RUNNER_PATH", "SCRIPTRUN_PYTHON", // the harness and Python are where the image puts them
  "SCRIPTRUN_LEASE_NAMESPACE", // the release namespace, from POD_NAMESPACE, where the chart's Lease is
  "SCRIPTRUN_LEADER_IDENTITY", // the pod's name
  "SCRIPTRUN_API_KUBECONFIG", // the service account
];

function assertCovered(variables: readonly string[], settable: string[]): void {
  const setByChart = variables.filter((name) => templates.includes(`name: ${name}\n`));
  for (const name of variables) {
    const ways = [settable.includes(name), setByChart.includes(name), FROM_IMAGE_OR_POD.includes(name)].filter(Boolean).length;
    assert.equal(ways, 1, `${name}: ${ways === 0 ? "neither a value nor set by the chart" : "both a value and set by the chart"}`);
  }
  assert.deepEqual(settable.filter((name) => !variables.includes(name)), [], "values.schema.json names variables the code does not read");
}

describe("the Helm chart", () => {
  it("carries the CRD that `npm run crds` generates", () => {
    assert.equal(readFileSync(CHART_CRD_PATH, "utf8"), renderCrd());
    assert.equal(readFileSync(CHART_CRD_PATH, "utf8"), readFileSync(CRD_PATH, "utf8"));
  });

  it("lets every controller variable be set, once: through `config` or by the chart", () => {
    assertCovered(CONFIG_VARIABLES, Object.keys(schema.properties.config.properties));
  });

  it("lets every API variable be set, once: through `api.config` or by the chart", () => {
    assertCovered(API_VARIABLES, Object.keys(schema.properties.api.properties.config.properties));
  });
});

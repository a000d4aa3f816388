// The Helm chart kept in step with the code, without a cluster: its CRDs are the generated ones,
// every SCRIPTRUN_* variable the controller and the API read is either a value of the chart's
// config maps or set by the chart's templates, its values refuse a runtime spec the ScriptRuntime
// schema refuses, and what it renders (runtimes, RBAC) is what the processes and users need
// (charts/scriptrun). test/e2e/helm.test.ts installs it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, parseAllDocuments } from "yaml";
import { API_VARIABLES } from "../api/config.js";
import { CHART_VALUES_SCHEMA_PATH, CRD_FILES, type CrdFile, chartCrdPath, crdPath, renderCrd, renderValuesSchema } from "../crds/generate.js";
import { BUILTIN_DEFAULTS, BUILTIN_MAXIMA, DEFAULT_RUNTIME_ANNOTATION, type ScriptRuntime, ScriptRuntimeSpecSchema } from "../crds/runtime.js";
import { CONFIG_VARIABLES } from "../operator/config.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const chart = join(repo, "charts", "scriptrun");
const templates = readdirSync(join(chart, "templates")).map((f) => readFileSync(join(chart, "templates", f), "utf8")).join("\n");
const schemaPath = join(chart, "values.schema.json");
const schema = JSON.parse(readFileSync(schemaPath, "utf8")) as {
  definitions: Record<string, unknown>;
  properties: { config: { properties: object }; api: { properties: { config: { properties: object } } } };
};

// Neither a value nor set by the chart: the image or the pod decides them.
const FROM_IMAGE_OR_POD = [
  "SCRIPTRUN_RUNNER_PATH", "SCRIPTRUN_PYTHON", // the harness and Python are where the image puts them
  "SCRIPTRUN_LEASE_NAMESPACE", // the release namespace, from POD_NAMESPACE, where the chart's Lease is
  "SCRIPTRUN_LEADER_IDENTITY", // the pod's name
  "SCRIPTRUN_API_KUBECONFIG", // the service account
  "SCRIPTRUN_API_PLAYGROUND_DIR", // the playground page, where the image puts it
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
  for (const file of Object.keys(CRD_FILES) as CrdFile[]) {
    it(`carries the CRD ${file} that \`npm run crds\` generates`, () => {
      assert.equal(readFileSync(chartCrdPath(file), "utf8"), renderCrd(file));
      assert.equal(readFileSync(chartCrdPath(file), "utf8"), readFileSync(crdPath(file), "utf8"));
    });
  }

  it("carries no CRD that `npm run crds` does not generate", () => {
    assert.deepEqual(readdirSync(join(chart, "crds")).sort(), Object.keys(CRD_FILES).sort());
  });

  it("lets every controller variable be set, once: through `config` or by the chart", () => {
    assertCovered(CONFIG_VARIABLES, Object.keys(schema.properties.config.properties));
  });

  it("lets every API variable be set, once: through `api.config` or by the chart", () => {
    assertCovered(API_VARIABLES, Object.keys(schema.properties.api.properties.config.properties));
  });

  it("sets no variable that neither process reads (a runtime's settings are its spec's, not the controller's)", () => {
    const set = [...templates.matchAll(/name: (SCRIPTRUN_[A-Z0-9_]+)\n/g)].map((m) => m[1]!);
    assert.deepEqual(set.filter((name) => !CONFIG_VARIABLES.includes(name) && !API_VARIABLES.includes(name)), []);
  });

  it("checks a runtime's spec in values with the ScriptRuntime schema of crds/runtime.ts", () => {
    assert.equal(readFileSync(CHART_VALUES_SCHEMA_PATH, "utf8"), renderValuesSchema(),
      "values.schema.json's definitions.runtimeSpec drifted from crds/runtime.ts; run `npm run crds`");
  });
});

interface Rendered {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  rules?: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
  roleRef?: { kind: string; name: string };
  subjects?: Array<{ kind: string; name: string }>;
}

// helm of the local cluster's build (make up), unless PATH has one first.
const helmEnv = {
  ...process.env,
  PATH: [process.env.PATH, join(process.env.SCRIPTRUN_CACHE_DIR ?? join(homedir(), ".cache", "scriptrun"), "bin", "current")].join(delimiter),
};

describe("the Helm chart, rendered", function () {
  this.timeout(30_000);
  let work: string;

  /** `helm template` with these values; throws helm's own message when it refuses them. */
  function render(values: Record<string, unknown> = {}): Rendered[] {
    const file = join(work, "values.json");
    writeFileSync(file, JSON.stringify(values));
    const helm = spawnSync("helm", ["template", "scriptrun", chart, "-n", "scriptrun-system", "-f", file], { env: helmEnv, encoding: "utf8" });
    if (helm.status !== 0) throw new Error(helm.stderr.trim());
    return parseAllDocuments(helm.stdout).map((doc) => doc.toJSON() as Rendered | null).filter((o): o is Rendered => o !== null);
  }
  const runtimesOf = (objects: Rendered[]) => objects.filter((o) => o.kind === "ScriptRuntime");
  const grants = (role: Rendered | undefined, resource: string, verb: string) =>
    (role?.rules ?? []).some((r) => r.apiGroups.includes(resource.includes("scriptrun") ? "scriptrun.dev" : "") &&
      r.resources.includes(resource) && r.verbs.includes(verb));
  const clusterRole = (objects: Rendered[], suffix: string) =>
    objects.find((o) => o.kind === "ClusterRole" && o.metadata.name.endsWith(`-${suffix}`));

  before(function () {
    // make test-unit runs before make up has built helm on a fresh machine; the e2e renders it there.
    if (spawnSync("helm", ["version"], { env: helmEnv }).status !== 0) this.skip();
    work = mkdtempSync(join(tmpdir(), "chart-test-"));
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("installs one runtime by default: python, the default one, valid against the ScriptRuntime schema", () => {
    const runtimes = runtimesOf(render());
    assert.deepEqual(runtimes.map((r) => r.metadata.name), ["python"]);
    const [python] = runtimes;
    assert.equal(python!.apiVersion, "scriptrun.dev/v1alpha1");
    assert.equal(python!.metadata.annotations?.[DEFAULT_RUNTIME_ANNOTATION], "true");
    assert.equal(python!.metadata.namespace, undefined, "a ScriptRuntime is cluster-scoped");
    const spec = ScriptRuntimeSpecSchema.parse(python!.spec);
    assert.equal(spec.image, "localhost/scriptrun/runner:test");
    assert.deepEqual(spec.pod.seccompProfile, { type: "Unconfined" });
  });

  it("installs the runtimes added in values as given, and not one set to null", () => {
    const datascience = {
      image: "registry.example/runner-datascience:1", imagePullPolicy: "Always", imagePullSecrets: [{ name: "pull" }],
      defaults: { memory: "512Mi" }, maxima: { timeoutSeconds: 600 }, imports: { deny: ["socket"] }, requireObjectResult: true,
      modules: ["sklearn", "scipy"], namespaceSelector: { matchLabels: { team: "data" } }, warmPool: { size: 2, namespaces: ["data"] },
      pod: {
        runtimeClassName: "gvisor", nodeSelector: { "example.com/pool": "scripts" }, priorityClassName: "low",
        tolerations: [{ key: "example.com/scripts", operator: "Exists", effect: "NoSchedule" }],
        seccompProfile: { type: "Localhost", localhostProfile: "profiles/scriptrun.json" }, cpuRequest: "50m",
      },
    };
    const runtimes = runtimesOf(render({ runtimes: { python: null, "python-datascience": { spec: datascience } } }));
    assert.deepEqual(runtimes.map((r) => r.metadata.name), ["python-datascience"]);
    assert.equal(runtimes[0]!.metadata.annotations?.[DEFAULT_RUNTIME_ANNOTATION], undefined);
    assert.deepEqual(runtimes[0]!.spec, datascience);
    assert.ok(ScriptRuntimeSpecSchema.safeParse(runtimes[0]!.spec).success);
  });

  it("refuses a runtime with an unknown key, a bad value, or a second default", () => {
    const refused = (runtimes: Record<string, unknown>, pattern: RegExp) => assert.throws(() => render({ runtimes }), pattern);
    refused({ python: { spec: { image: "x", imagePullPolicy: "Sometimes" } } }, /imagePullPolicy/);
    refused({ python: { spec: { image: "x", pod: { seccompProfile: { type: "Unconfined", localhost: "x" } } } } }, /localhost/);
    refused({ python: { spec: { image: "x", defaults: { memory: "lots" } } } }, /memory/);
    refused({ python: { default: true, spec: { image: "x" }, labels: {} } }, /labels/);
    refused({ other: { default: true, spec: { image: "x" } } }, /default/);
    refused({ Python: { spec: { image: "x" } } }, /Python/);
    // The image has no default: a runtime without one is refused by the chart, not by the apiserver.
    refused({ python: { spec: { image: null } } }, /image/);
  });

  it("lets the controller read runtimes and namespaces cluster-wide, even when it watches only some namespaces", () => {
    for (const watchNamespaces of [[], ["team-a", "team-b"]]) {
      const objects = render({ controller: { watchNamespaces } });
      const role = clusterRole(objects, "controller-runtimes");
      for (const verb of ["get", "list", "watch"]) {
        assert.ok(grants(role, "scriptruntimes", verb) && grants(role, "namespaces", verb), `${verb}, watching ${watchNamespaces.join() || "all"}`);
      }
      assert.ok(grants(role, "scriptruntimes/status", "patch"));
      // Events on runtimes go to the release namespace (the Lease's), watched or not.
      const events = objects.filter((o) => ["Role", "ClusterRole"].includes(o.kind) && grants(o, "events", "create")
        && (o.kind === "ClusterRole" || o.metadata.namespace === "scriptrun-system"));
      assert.ok(events.length > 0, `no role lets the controller record events in the release namespace, watching ${watchNamespaces.join() || "all"}`);
    }
  });

  it("lets the API read runtimes and namespaces", () => {
    const role = clusterRole(render(), "api");
    for (const verb of ["get", "list", "watch"]) assert.ok(grants(role, "scriptruntimes", verb) && grants(role, "namespaces", verb), verb);
  });

  it("adds scriptruns to the built-in view, edit and admin roles, and lets every authenticated user read runtimes", () => {
    const objects = render();
    const view = clusterRole(objects, "view");
    const edit = clusterRole(objects, "edit");
    for (const label of ["view", "edit", "admin"]) {
      assert.equal(view?.metadata.labels?.[`rbac.authorization.k8s.io/aggregate-to-${label}`], "true", `view role to ${label}`);
    }
    for (const label of ["edit", "admin"]) assert.equal(edit?.metadata.labels?.[`rbac.authorization.k8s.io/aggregate-to-${label}`], "true");
    assert.equal(edit?.metadata.labels?.["rbac.authorization.k8s.io/aggregate-to-view"], undefined, "view must not write");
    for (const verb of ["get", "list", "watch"]) assert.ok(grants(view, "scriptruns", verb) && grants(view, "scriptruntimes", verb), verb);
    for (const verb of ["create", "update", "patch", "delete", "deletecollection"]) assert.ok(grants(edit, "scriptruns", verb), verb);
    assert.ok(!grants(edit, "scriptruntimes", "create"), "runtimes are the platform team's");

    const binding = objects.find((o) => o.kind === "ClusterRoleBinding" && o.subjects?.some((s) => s.kind === "Group" && s.name === "system:authenticated"));
    const reader = objects.find((o) => o.kind === "ClusterRole" && o.metadata.name === binding?.roleRef?.name);
    assert.ok(grants(reader, "scriptruntimes", "list") && !grants(reader, "scriptruns", "list"), "authenticated users read runtimes, not runs");

    const without = render({ rbac: { aggregateToDefaultRoles: false, runtimesReadableByAuthenticated: false } });
    assert.equal(clusterRole(without, "view"), undefined);
    assert.equal(without.find((o) => o.subjects?.some((s) => s.name === "system:authenticated")), undefined);
  });
});

describe("the local cluster's runtimes (cluster/runtimes/, which make up applies)", () => {
  const runtimes = readdirSync(join(repo, "cluster", "runtimes"))
    .map((f) => parse(readFileSync(join(repo, "cluster", "runtimes", f), "utf8")) as ScriptRuntime);

  it("are python, the default, with the built-in limits the tests expect, and python-datascience", () => {
    assert.deepEqual(runtimes.map((r) => r.metadata.name).sort(), ["python", "python-datascience"]);
    const python = runtimes.find((r) => r.metadata.name === "python")!;
    assert.equal(python.metadata.annotations?.[DEFAULT_RUNTIME_ANNOTATION], "true");
    assert.deepEqual([python.spec.defaults, python.spec.maxima], [BUILTIN_DEFAULTS, BUILTIN_MAXIMA]);
    for (const runtime of runtimes) {
      assert.ok(ScriptRuntimeSpecSchema.safeParse(runtime.spec).success, runtime.metadata.name);
      // No registry: the images are imported into the node's containerd.
      assert.equal(runtime.spec.imagePullPolicy, "IfNotPresent", runtime.metadata.name);
    }
  });
});

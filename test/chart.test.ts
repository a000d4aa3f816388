// The Helm chart kept in step with the code, without a cluster: its CRDs are the generated ones,
// every SCRIPTRUN_* variable the controller and the API read is either a value of the chart's
// config maps or set by the chart's templates, its values refuse a runtime spec the ScriptRuntime
// schema refuses, and what it renders (runtimes, RBAC) is what the processes and users need
// (charts/scriptrun). test/e2e/helm.test.ts installs it.
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parse, parseAllDocuments } from "yaml";
import { API_VARIABLES } from "../api/config.js";
import { CHART_VALUES_SCHEMA_PATH, CRD_FILES, type CrdFile, chartCrdPath, crdPath, renderCrd, renderValuesSchema } from "../crds/generate.js";
import { BUILTIN_DEFAULTS, BUILTIN_MAXIMA, DEFAULT_RUNTIME_ANNOTATION, type ScriptRuntime, ScriptRuntimeSpecSchema } from "../crds/runtime.js";
import { CONFIG_VARIABLES } from "../operator/config.js";
import { serverNodeArgs } from "./cluster/kube.js";

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
  data?: Record<string, string>;
  rules?: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
  roleRef?: { kind: string; name: string };
  subjects?: Array<{ kind: string; name: string }>;
}

// The helm of the local cluster (cluster/lib/build.sh, with its release flags), which the first run
// on a machine builds from its Go module (minutes), before `make up` ever has; later runs, and
// `make up`, find it in the cache.
const HELM_BUILD_TIMEOUT_MS = 20 * 60_000;
let helmBuilt: Promise<string> | undefined;
function buildHelm(): Promise<string> {
  helmBuilt ??= promisify(execFile)("bash", [join(repo, "cluster", "lib", "build.sh"), "helm"]).then((r) => r.stdout.trim());
  return helmBuilt;
}

describe("the Helm chart, rendered", function () {
  this.timeout(30_000);
  let helm: string;
  let work: string;

  /** `helm template` with these values; throws helm's own message when it refuses them. */
  function render(values: Record<string, unknown> = {}): Rendered[] {
    const file = join(work, "values.json");
    writeFileSync(file, JSON.stringify(values));
    const rendered = spawnSync(helm, ["template", "scriptrun", chart, "-n", "scriptrun-system", "-f", file], { encoding: "utf8" });
    if (rendered.status !== 0) throw new Error(rendered.stderr.trim());
    return parseAllDocuments(rendered.stdout).map((doc) => doc.toJSON() as Rendered | null).filter((o): o is Rendered => o !== null);
  }
  const runtimesOf = (objects: Rendered[]) => objects.filter((o) => o.kind === "ScriptRuntime");
  const grants = (role: Rendered | undefined, resource: string, verb: string) =>
    (role?.rules ?? []).some((r) => r.apiGroups.includes(resource.includes("scriptrun") ? "scriptrun.dev" : "") &&
      r.resources.includes(resource) && r.verbs.includes(verb));
  const clusterRole = (objects: Rendered[], suffix: string) =>
    objects.find((o) => o.kind === "ClusterRole" && o.metadata.name.endsWith(`-${suffix}`));

  before(async function () {
    this.timeout(HELM_BUILD_TIMEOUT_MS);
    helm = await buildHelm();
    work = mkdtempSync(join(tmpdir(), "chart-test-"));
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("runs the controller and the API with the node flags the tests and make scale run them with, or the heap limit given", () => {
    const commands = (objects: Rendered[]) => Object.fromEntries(objects.filter((o) => o.kind === "Deployment").map((o) =>
      [o.metadata.name, (o.spec as { template: { spec: { containers: Array<{ command: string[] }> } } }).template.spec.containers[0]!.command]));
    assert.deepEqual(commands(render()), {
      "scriptrun-api": ["node", ...serverNodeArgs("api/main", "dist")],
      "scriptrun-controller": ["node", ...serverNodeArgs("operator/main", "dist")],
    });
    assert.equal(commands(render({ controller: { heapLimitMiB: 1536 } }))["scriptrun-controller"]![1], "--max-old-space-size=1536");
    assert.throws(() => render({ api: { heapLimitMiB: "lots" } }), /heapLimitMiB/);
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

  it("puts the runner pods' deny-all NetworkPolicy in every namespace where the chart knows runs happen", () => {
    const denyAll = (values: Record<string, unknown>) => render(values)
      .filter((o) => o.kind === "NetworkPolicy" && o.metadata.name.endsWith("-runner-deny-all")).map((o) => o.metadata.namespace).sort();
    // Watching every namespace: the release namespace, the API's default one, the warm pools'.
    assert.deepEqual(denyAll({}), ["scriptrun-system"]);
    assert.deepEqual(denyAll({ api: { defaultNamespace: "scripts" } }), ["scriptrun-system", "scripts"]);
    assert.deepEqual(denyAll({ api: { enabled: false, defaultNamespace: "scripts" } }), ["scriptrun-system"]);
    const pooled = { python: { spec: { warmPool: { size: 1, namespaces: ["pool", "scripts"] } } } };
    assert.deepEqual(denyAll({ api: { defaultNamespace: "scripts" }, runtimes: pooled }), ["pool", "scriptrun-system", "scripts"]);
    // Watching some: those. Listed: those alone.
    assert.deepEqual(denyAll({ api: { defaultNamespace: "b" }, controller: { watchNamespaces: ["a", "b"] } }), ["a", "b"]);
    assert.deepEqual(denyAll({ api: { defaultNamespace: "scripts" }, runner: { networkPolicy: { namespaces: ["x"] } } }), ["x"]);
  });

  it("refuses an API default namespace the controller does not watch, where the API may create no run", () => {
    assert.throws(() => render({ api: { defaultNamespace: "other" }, controller: { watchNamespaces: ["a"] } }),
      /api\.defaultNamespace other is not one of controller\.watchNamespaces \(a\)/);
    const apiNamespace = (values: Record<string, unknown>) => (render(values).find((o) => o.kind === "Deployment" && o.metadata.name.endsWith("-api"))!
      .spec as { template: { spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> } } })
      .template.spec.containers[0]!.env.find((e) => e.name === "SCRIPTRUN_API_NAMESPACE")?.value;
    assert.equal(apiNamespace({ api: { defaultNamespace: "b" }, controller: { watchNamespaces: ["a", "b"] } }), "b");
    assert.equal(apiNamespace({ controller: { watchNamespaces: ["a", "b"] } }), "a");
    assert.doesNotThrow(() => render({ api: { enabled: false, defaultNamespace: "other" }, controller: { watchNamespaces: ["a"] } }));
  });

  it("takes for the PodDisruptionBudgets' maxUnavailable what Kubernetes takes: a number of pods or a percentage up to 100%", () => {
    const budgets = (maxUnavailable: unknown) => render({ podDisruptionBudget: { enabled: true, maxUnavailable } })
      .filter((o) => o.kind === "PodDisruptionBudget").map((o) => o.spec?.maxUnavailable);
    for (const accepted of [0, 1, "0%", "50%", "100%"]) assert.deepEqual(budgets(accepted), [accepted, accepted]);
    for (const refused of ["abc", "50", "101%", "-1%", -1, 1.5]) assert.throws(() => budgets(refused), /maxUnavailable/, String(refused));
  });

  it("grants the controller and the API exactly the permissions the chart's README lists for them", () => {
    const readme = readFileSync(join(chart, "README.md"), "utf8");
    // The RBAC section's first table is the controller's, the second the API's.
    const [controllerTable, apiTable] = readme.slice(readme.indexOf("## Permissions (RBAC)")).split("\n\n")
      .filter((block) => block.startsWith("| resource | verbs | why |"));
    const listed = (table: string) => new Set(table.split("\n").slice(2).flatMap((row) => {
      const [resources, verbs] = row.split("|").slice(1, 3) as [string, string];
      return [...resources.matchAll(/`([^`]+)`/g)].flatMap((m) => verbs.split(",").map((verb) => `${m[1]} ${verb.trim()}`));
    }));
    for (const watchNamespaces of [[], ["team-a"]]) {
      const objects = render({ controller: { watchNamespaces }, api: { defaultNamespace: watchNamespaces[0] ?? "" } });
      const granted = (component: string) => new Set(objects
        .filter((o) => ["Role", "ClusterRole"].includes(o.kind) && o.metadata.labels?.["app.kubernetes.io/component"] === component)
        .flatMap((o) => (o.rules ?? []).flatMap((r) => r.resources.flatMap((resource) => r.verbs.map((verb) => `${resource} ${verb}`)))));
      const watching = watchNamespaces.join() || "all";
      assert.deepEqual([...granted("controller")].sort(), [...listed(controllerTable!)].sort(), `the controller, watching ${watching}`);
      assert.deepEqual([...granted("api")].sort(), [...listed(apiTable!)].sort(), `the API, watching ${watching}`);
    }
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

describe("the Helm chart's monitoring (all off by default)", function () {
  this.timeout(30_000);
  let helmPath: string;
  let work: string;
  const everythingOn = {
    monitoring: {
      serviceMonitor: { enabled: true, labels: { release: "kube-prometheus-stack" } },
      prometheusRule: { enabled: true, labels: { release: "kube-prometheus-stack" } },
      dashboard: { enabled: true, namespace: "grafana", annotations: { grafana_folder: "ScriptRun" } },
    },
  };
  // The cluster serves the Prometheus Operator's API, as helm install would find out.
  const withMonitoringApi = ["--api-versions", "monitoring.coreos.com/v1"];

  function helm(args: string[], values: Record<string, unknown>): { status: number | null; stdout: string; stderr: string } {
    const file = join(work, "values.json");
    writeFileSync(file, JSON.stringify(values));
    return spawnSync(helmPath, [...args, "-f", file], { encoding: "utf8" });
  }
  function render(values: Record<string, unknown>, ...args: string[]): Rendered[] {
    return renderAs("scriptrun", values, ...args);
  }
  function renderAs(release: string, values: Record<string, unknown>, ...args: string[]): Rendered[] {
    const rendered = helm(["template", release, chart, "-n", "scriptrun-system", ...args], values);
    if (rendered.status !== 0) throw new Error(rendered.stderr.trim());
    return parseAllDocuments(rendered.stdout).map((doc) => doc.toJSON() as Rendered | null).filter((o): o is Rendered => o !== null);
  }
  const MONITORING_KINDS = ["ServiceMonitor", "PrometheusRule"];
  const named = (objects: Rendered[], kind: string, suffix: string) =>
    objects.find((o) => o.kind === kind && o.metadata.name.endsWith(suffix));

  before(async function () {
    this.timeout(HELM_BUILD_TIMEOUT_MS);
    helmPath = await buildHelm();
    work = mkdtempSync(join(tmpdir(), "chart-monitoring-"));
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("renders no monitoring object by default, even where the cluster serves the Prometheus Operator's API", () => {
    const objects = render({}, ...withMonitoringApi);
    assert.deepEqual(objects.filter((o) => MONITORING_KINDS.includes(o.kind)), []);
    assert.equal(objects.find((o) => o.kind === "ConfigMap"), undefined);
    assert.deepEqual(objects.filter((o) => o.kind === "Service").map((o) => o.metadata.name), ["scriptrun-api"]);
  });

  // The longest release name Helm takes, and no "scriptrun" in it: the fullname gets the chart's name
  // too, cut at 63 characters.
  const longestRelease = `release-${"x".repeat(45)}`;

  it("scrapes the controller and the API through their Services, on the ports their containers name, whatever the release's name", () => {
    for (const release of ["scriptrun", longestRelease]) {
      const objects = renderAs(release, everythingOn, ...withMonitoringApi);
      for (const component of ["controller", "api"]) {
        const monitor = named(objects, "ServiceMonitor", `-${component}`);
        assert.equal(monitor?.metadata.labels?.release, "kube-prometheus-stack", component);
        const spec = monitor!.spec as { selector: { matchLabels: Record<string, string> }; endpoints: Array<{ port: string; path: string }> };
        const services = objects.filter((o) => o.kind === "Service"
          && Object.entries(spec.selector.matchLabels).every(([k, v]) => o.metadata.labels?.[k] === v));
        assert.equal(services.length, 1, `${component}: ServiceMonitor selects ${services.map((s) => s.metadata.name).join() || "no Service"}`);
        const service = services[0]!.spec as { selector: Record<string, string>; ports: Array<{ name: string; targetPort: string }> };
        const port = service.ports.find((p) => p.name === spec.endpoints[0]!.port);
        assert.ok(port, `${component}: the Service has no port ${spec.endpoints[0]!.port}`);
        assert.equal(spec.endpoints[0]!.path, "/metrics");
        // The Service's target is a port the component's pods name.
        const deployment = objects.find((o) => o.kind === "Deployment" && o.metadata.name.endsWith(`-${component}`))!;
        const pod = (deployment.spec as { template: { metadata: { labels: Record<string, string> }; spec: { containers: Array<{ ports: Array<{ name: string }> }> } } }).template;
        assert.ok(Object.entries(service.selector).every(([k, v]) => pod.metadata.labels[k] === v), `${component}: the Service selects no pod of it`);
        assert.ok(pod.spec.containers[0]!.ports.some((p) => p.name === port.targetPort), `${component}: no container port ${port.targetPort}`);
      }
    }
  });

  it("names every object as its kind must be named, even for the longest release name or fullnameOverride", () => {
    const dnsLabel = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/; // a Service's name
    const dnsSubdomain = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
    const RBAC_KINDS = ["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"]; // any name without "/" or "%"
    const values = { ...everythingOn, monitoring: { ...everythingOn.monitoring, controllerService: { enabled: true } } };
    for (const objects of [renderAs(longestRelease, values, ...withMonitoringApi), renderAs("team.scripts", values, ...withMonitoringApi),
      render({ ...values, fullnameOverride: `scriptrun-${"x".repeat(53)}` }, ...withMonitoringApi)]) {
      assert.equal(objects.filter((o) => o.kind === "Service").length, 2);
      for (const { kind, metadata: { name } } of objects.filter((o) => !RBAC_KINDS.includes(o.kind))) {
        assert.match(name, kind === "Service" ? dnsLabel : dnsSubdomain, `${kind} ${name} (${name.length} characters)`);
      }
    }
  });

  it("refuses, saying what to set, a release whose Services' names would start with a digit", () => {
    assert.throws(() => renderAs("1st", {}), /scriptrun-api.*must start with a letter; set fullnameOverride/);
    assert.deepEqual(renderAs("1st", { fullnameOverride: "first" }).filter((o) => o.kind === "Service").map((o) => o.metadata.name), ["first-api"]);
  });

  it("carries the alerts of rules/scriptrun.yaml and the dashboard of dashboards/scriptrun.json as they are", () => {
    const objects = render(everythingOn, ...withMonitoringApi);
    const rule = named(objects, "PrometheusRule", "scriptrun");
    assert.equal(rule?.metadata.labels?.release, "kube-prometheus-stack");
    assert.deepEqual(rule!.spec, parse(readFileSync(join(chart, "rules", "scriptrun.yaml"), "utf8")));
    const dashboard = named(objects, "ConfigMap", "-dashboard");
    assert.equal(dashboard?.metadata.namespace, "grafana");
    assert.equal(dashboard?.metadata.labels?.grafana_dashboard, "1", "the label Grafana's dashboard sidecar looks for");
    assert.equal(dashboard?.metadata.annotations?.grafana_folder, "ScriptRun");
    assert.equal(dashboard!.data?.["scriptrun.json"], readFileSync(join(chart, "dashboards", "scriptrun.json"), "utf8"));
  });

  it("leaves the ServiceMonitors and the PrometheusRule out where the cluster does not serve their API, unless told not to look", () => {
    const without = render(everythingOn);
    assert.deepEqual(without.filter((o) => MONITORING_KINDS.includes(o.kind)), []);
    assert.ok(named(without, "ConfigMap", "-dashboard"), "the dashboard needs no CRD");
    const told = render({ monitoring: { ...everythingOn.monitoring, detectCRDs: false } });
    assert.deepEqual(told.filter((o) => MONITORING_KINDS.includes(o.kind)).map((o) => o.kind).sort(), ["PrometheusRule", "ServiceMonitor", "ServiceMonitor"]);
  });

  it("makes the controller's metrics Service alone when asked, and no API ServiceMonitor without the API", () => {
    const objects = render({ api: { enabled: false }, monitoring: { controllerService: { enabled: true } } });
    assert.deepEqual(objects.filter((o) => o.kind === "Service").map((o) => o.metadata.name), ["scriptrun-controller-metrics"]);
    const monitors = render({ api: { enabled: false }, ...everythingOn }, ...withMonitoringApi).filter((o) => o.kind === "ServiceMonitor");
    assert.deepEqual(monitors.map((o) => o.metadata.name), ["scriptrun-controller"]);
  });

  it("refuses a scrape interval that is not a Prometheus duration", () => {
    assert.throws(() => render({ monitoring: { serviceMonitor: { enabled: true, interval: "30 seconds" } } }), /interval/);
  });

  it("lints clean with everything on (helm lint --strict)", () => {
    const lint = helm(["lint", "--strict", chart], { monitoring: { ...everythingOn.monitoring, detectCRDs: false, controllerService: { enabled: true } } });
    assert.equal(lint.status, 0, lint.stdout + lint.stderr);
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

// The Helm chart on the real cluster: lint, render and dry-run every object on the apiserver,
// install it into a fresh namespace with the local images and two runtimes of its own, run every
// behaviour case through the in-cluster API Service (with a real ServiceAccount token) and as
// ScriptRuns, run scikit-learn on the second runtime, then uninstall it and find nothing left but
// the CRDs. Needs the images localhost/scriptrun/operator:test (scripts/build-images.sh),
// localhost/scriptrun/runner:test and localhost/scriptrun/runner-datascience:test (make up) on the node.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { RUNTIMES } from "../../core/runtimeCatalog.js";
import type { ScriptRuntime } from "../../crds/runtime.js";
import { assertMatchesCase, caseFailures, loadCases, type Outcome } from "../cases.js";
import { createRun, finished, getRun, outcomeOf } from "../cluster/controller.js";
import { core, createNamespace, custom, deleteNamespace, eventually, kc } from "../cluster/kube.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const chart = join(repo, "charts", "scriptrun");
const release = "scriptrun";
// helm and kubectl of the local cluster's build, unless the caller's PATH has them first.
const env = { ...process.env, PATH: `${process.env.PATH}:${join(process.env.SCRIPTRUN_CACHE_DIR ?? join(homedir(), ".cache", "scriptrun"), "bin", "current")}` };

/** Runs a command to its end; resolves its stdout, rejects with its stderr. */
function sh(command: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => { stdout += chunk; });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => { stderr += chunk; });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolvePromise(stdout)
      : reject(new Error(`${command} ${args.join(" ")} exited ${code}: ${stderr.trim() || stdout.trim()}`))));
    child.stdin.end(input ?? "");
  });
}

/** The release's two runtimes. Runtimes are cluster-scoped: the namespace in their names keeps
 * them apart from the cluster's own (make up's python and python-datascience) and from another
 * run of this test, and the uninstall check finds them if they are left. */
const runtimeNames = (namespace: string) => ({ basic: `${namespace}-basic`, datascience: `${namespace}-datascience` });

/** What the e2e install differs in from the defaults: this namespace only, the local images as
 * imported, small CPU requests (runner pods share two cores), room for all cases at once, and its
 * own runtimes instead of the chart's python, which make up's would collide with. Neither is the
 * default: the cluster has one, so every run here names its runtime. */
function e2eValues(namespace: string): Record<string, unknown> {
  const small = { requests: { cpu: "10m", memory: "64Mi" }, limits: { memory: "256Mi" } };
  const { basic, datascience } = runtimeNames(namespace);
  return {
    image: { pullPolicy: "Never" },
    runtimes: {
      python: null,
      // One warm pod: the release's controller claims it and attaches to it with its own rights.
      [basic]: { default: false, spec: { image: "localhost/scriptrun/runner:test", imagePullPolicy: "Never", warmPool: { size: 1, namespaces: [namespace] } } },
      [datascience]: {
        spec: {
          image: "localhost/scriptrun/runner-datascience:test", imagePullPolicy: "Never",
          modules: ["sklearn", "scipy", "matplotlib"], defaults: { memory: "512Mi" },
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } },
        },
      },
    },
    // The controller queues what is past the cap; runs Pending on a busy node would fail at the start timeout.
    config: { SCRIPTRUN_MAX_CONCURRENT_RUNS: "4", SCRIPTRUN_POD_START_TIMEOUT_SECONDS: "300" },
    controller: { watchNamespaces: [namespace], resources: small },
    api: { resources: small, config: { SCRIPTRUN_API_MAX_WAIT_SECONDS: "300" } },
  };
}

const SKLEARN = "from sklearn.linear_model import LinearRegression\n" +
  "def main():\n    return round(float(LinearRegression().fit([[0], [1], [2]], [1, 3, 5]).coef_[0]), 6)\n";

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** The API Service: its ClusterIP where the host reaches it (kube-proxy on this node), else a port-forward. */
async function reachService(namespace: string, name: string): Promise<{ url: string; forward?: ChildProcess }> {
  const service = await core.readNamespacedService({ namespace, name });
  const port = service.spec!.ports![0]!.port;
  const direct = `http://${service.spec!.clusterIP}:${port}`;
  if (await fetch(`${direct}/readyz`, { signal: AbortSignal.timeout(3000) }).then(() => true, () => false)) return { url: direct };
  const forward = spawn("kubectl", ["port-forward", "-n", namespace, `svc/${name}`, `:${port}`], { env, stdio: ["ignore", "pipe", "inherit"] });
  const local = await new Promise<string>((resolvePromise, reject) => {
    forward.stdout!.setEncoding("utf8").on("data", (line: string) => {
      const match = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(line);
      if (match) resolvePromise(`http://127.0.0.1:${match[1]}`);
    });
    forward.on("exit", (code) => reject(new Error(`kubectl port-forward exited ${code}`)));
  });
  return { url: local, forward };
}

describe("the Helm chart on the real cluster", function () {
  let namespace: string;
  let runtimes: ReturnType<typeof runtimeNames>;
  let work: string;
  let valuesFile: string;
  let api: { url: string; forward?: ChildProcess };
  let token: string;
  let manifest: string;

  async function call(method: string, path: string, body?: unknown): Promise<Answer> {
    const response = await fetch(`${api.url}${path}`, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    try {
      return { status: response.status, body: JSON.parse(text) as Record<string, unknown> };
    } catch {
      // Say what came back instead of a bare JSON SyntaxError, so a failure can be traced.
      throw new Error(`${method} ${path} answered ${response.status} with a body that is not JSON ` +
        `(${text.length} characters: ${JSON.stringify(text.slice(0, 200))}; headers ${JSON.stringify(Object.fromEntries(response.headers))})`);
    }
  }

  before(async () => {
    namespace = await createNamespace("helm");
    runtimes = runtimeNames(namespace);
    work = mkdtempSync(join(tmpdir(), "helm-e2e-"));
    valuesFile = join(work, "values.json");
    writeFileSync(valuesFile, JSON.stringify(e2eValues(namespace)));
  });
  after(async () => {
    api?.forward?.kill();
    await sh("helm", ["uninstall", release, "-n", namespace, "--wait"]).catch(() => undefined);
    await deleteNamespace(namespace);
    rmSync(work, { recursive: true, force: true });
  });

  it("lints clean, with the default values and with the e2e values", async () => {
    await sh("helm", ["lint", "--strict", chart]);
    await sh("helm", ["lint", "--strict", "-n", namespace, "-f", valuesFile, chart]);
  });

  it("uses a helm that knows its own version, as a released one does", async () => {
    // Lint and template run without --kube-version: a helm built without its release flags
    // assumes Kubernetes v1.20, which the chart's kubeVersion refuses.
    assert.match(await sh("helm", ["version", "--template", "{{.Version}}"]), /^v3\.\d+\.\d+$/);
  });

  it("renders objects the apiserver accepts, watching every namespace or only some, with the chart's runtime or others, with the dashboard", async () => {
    // The dashboard's ConfigMap and the controller's metrics Service; the cluster serves no
    // monitoring.coreos.com API, so the chart leaves the ServiceMonitors and the PrometheusRule out.
    const monitoring = ["--set", "monitoring.dashboard.enabled=true", "--set", "monitoring.serviceMonitor.enabled=true",
      "--set", "monitoring.prometheusRule.enabled=true"];
    for (const [values, expected] of [[[], ["python"]], [["-f", valuesFile], [runtimes.basic, runtimes.datascience]], [monitoring, ["python"]]] as const) {
      const rendered = await sh("helm", ["template", release, chart, "-n", namespace, "--include-crds", ...values]);
      const objects = parseAllDocuments(rendered).map((doc) => doc.toJSON() as { kind?: string; metadata?: { name?: string } } | null);
      const kinds = objects.map((o) => o?.kind).filter(Boolean);
      // The CRDs' schemas and CEL rules judge the runtimes, as they would at install.
      const applied = await sh("kubectl", ["apply", "--dry-run=server", "-f", "-"], rendered);
      assert.equal(applied.trim().split("\n").length, kinds.length, applied);
      assert.ok(kinds.includes("CustomResourceDefinition") && kinds.includes("NetworkPolicy") && kinds.includes("PodDisruptionBudget"), kinds.join());
      assert.deepEqual(objects.filter((o) => o?.kind === "ScriptRuntime").map((o) => o!.metadata?.name).sort(), [...expected].sort());
      if (values === monitoring) {
        assert.deepEqual(kinds.filter((k) => ["ConfigMap", "ServiceMonitor", "PrometheusRule"].includes(k!)), ["ConfigMap"]);
        assert.ok(objects.some((o) => o?.kind === "Service" && o.metadata?.name?.endsWith("-controller-metrics")), "the controller's metrics Service");
      }
    }
  });

  it("installs into a namespace and becomes ready, one controller leading on the chart's Lease", async () => {
    await sh("helm", ["install", release, chart, "-n", namespace, "-f", valuesFile, "--wait", "--timeout", "180s"]);
    manifest = await sh("helm", ["get", "manifest", release, "-n", namespace]);
    const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
    const holder = await eventually("a controller to lead", async () =>
      (await coordination.readNamespacedLease({ namespace, name: `${release}-controller` })).spec?.holderIdentity || undefined);
    const pods = await core.listNamespacedPod({ namespace, labelSelector: "app.kubernetes.io/component=controller" });
    assert.ok(pods.items.some((pod) => holder.startsWith(`${pod.metadata!.name}_`)), `holder ${holder}`);

    // The controller judges the release's runtimes usable.
    for (const name of Object.values(runtimes)) {
      await eventually(`runtime ${name} to be Accepted`, async () => {
        const runtime = await custom.getClusterCustomObject({ ...RUNTIMES, name }) as ScriptRuntime;
        return runtime.status?.conditions?.some((c) => c.type === "Accepted" && c.status === "True") || undefined;
      });
    }

    // A caller allowed to run scripts here, as a platform team would grant it: the built-in edit
    // role, which the chart's aggregated ClusterRoles extend to scriptruns.
    const caller = `system:serviceaccount:${namespace}:caller`;
    await sh("kubectl", ["create", "serviceaccount", "caller", "-n", namespace]);
    await sh("kubectl", ["create", "rolebinding", "caller", "-n", namespace, "--clusterrole=edit", `--serviceaccount=${namespace}:caller`]);
    const canI = (...args: string[]) => sh("kubectl", ["auth", "can-i", ...args, `--as=${caller}`]).then((out) => out.trim(), () => "no");
    // Aggregation is asynchronous: the clusterrole-aggregation controller adds the rules soon after install.
    await eventually("edit to cover scriptruns", async () => ((await canI("create", "scriptruns.scriptrun.dev", "-n", namespace)) === "yes" || undefined));
    assert.equal(await canI("list", "scriptruntimes.scriptrun.dev"), "yes", "every authenticated user reads runtimes");
    assert.equal(await canI("create", "scriptruntimes.scriptrun.dev"), "no", "runtimes are the platform team's");
    token = (await sh("kubectl", ["create", "token", "caller", "-n", namespace, "--duration=1h"])).trim();
    api = await reachService(namespace, `${release}-api`);
  });

  it("runs every behaviour case through the API Service and as a ScriptRun, cancels and expires runs", async () => {
    // All at once: the controller runs four and queues the rest. The script's own duration is
    // what the cases bound, not the time spent in that queue.
    const cases = loadCases();
    const runtime = runtimes.basic;
    const viaApi = caseFailures(cases, cases.length, async (c) => {
      const answer = await call("POST", "/execute", { ...c.request, runtime });
      assert.equal(answer.status, 200, `case ${c.name} via the API: ${answer.status} ${JSON.stringify(answer.body)}`);
      assertMatchesCase(c, answer.body as unknown as Outcome, Number(answer.body.durationMs ?? 0) / 1000);
    });
    const viaKubectl = caseFailures(cases, cases.length, async (c) => {
      await createRun(namespace, `case-${c.name}`, { ...c.request, runtime });
      const run = await finished(namespace, `case-${c.name}`, 480_000);
      assertMatchesCase(c, outcomeOf(run.status ?? {}), Number(run.status?.durationMs ?? 0) / 1000);
    });
    // The API's cancel is a patch of the run; the controller deletes a run past its TTL.
    const cancel = (async () => {
      const created = await call("POST", "/runs", { script: "import time\ndef main():\n    time.sleep(120)\n", timeoutSeconds: 150, runtime });
      assert.equal(created.status, 202, JSON.stringify(created.body));
      const name = created.body.name as string;
      await eventually(`run ${name} to run`, async () => ((await getRun(namespace, name)).status?.phase === "Running" ? true : undefined), 480_000);
      assert.equal((await call("DELETE", `/runs/${name}`)).status, 202);
      const run = await finished(namespace, name);
      assert.equal((run.status?.error as { type?: string } | undefined)?.type, "cancelled");
    })();
    const expire = (async () => {
      await createRun(namespace, "expires", { script: "def main():\n    return 1\n", ttlSecondsAfterFinished: 1, runtime });
      await eventually("the expired run to be deleted", async () =>
        (await getRun(namespace, "expires").then(() => undefined, (err: { code?: number }) => (err.code === 404 ? true : undefined))), 480_000);
    })();
    const [apiFailures, kubectlFailures] = await Promise.all([viaApi, viaKubectl, cancel, expire]);
    assert.deepEqual([...apiFailures, ...kubectlFailures], []);
    const events = await core.listNamespacedEvent({ namespace, fieldSelector: "involvedObject.kind=ScriptRun" });
    assert.ok(events.items.some((e) => e.reportingComponent === "scriptrun-controller"), "the controller recorded no events");
  });

  it("runs scikit-learn on the second runtime, points a script on the first to it, and refuses an unknown one", async () => {
    const answer = await call("POST", "/execute", { script: SKLEARN, runtime: runtimes.datascience });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual([answer.body.success, answer.body.result], [true, 2], JSON.stringify(answer.body));

    await createRun(namespace, "sklearn", { script: SKLEARN, runtime: runtimes.datascience });
    await createRun(namespace, "sklearn-elsewhere", { script: SKLEARN, runtime: runtimes.basic });
    await createRun(namespace, "nowhere", { script: "def main():\n    return 1\n", runtime: `${namespace}-missing` });
    const here = await finished(namespace, "sklearn", 480_000);
    assert.deepEqual([here.status?.phase, here.status?.result], ["Succeeded", 2], JSON.stringify(here.status));
    const elsewhere = await finished(namespace, "sklearn-elsewhere", 480_000);
    assert.equal(elsewhere.status?.phase, "Failed");
    assert.ok(JSON.stringify(elsewhere.status?.error).includes(runtimes.datascience), JSON.stringify(elsewhere.status?.error));
    const nowhere = await finished(namespace, "nowhere");
    assert.equal((nowhere.status?.error as { type?: string } | undefined)?.type, "invalid_input", JSON.stringify(nowhere.status));
    assert.equal(nowhere.status?.podName, undefined, "an unknown runtime is refused before any pod");
  });

  it("serves the playground page from its image, and lists the runtimes the caller may use", async () => {
    const page = await fetch(`${api.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    const script = /<script type="module" src="([^"]+)"/.exec(await page.text())?.[1];
    assert.equal((await fetch(new URL(script ?? "missing", `${api.url}/`))).status, 200, `the page's script ${script}`);
    const listed = await call("GET", "/runtimes");
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    const names = (listed.body.items as Array<{ name: string }>).map((r) => r.name);
    assert.ok(names.includes(runtimes.basic) && names.includes(runtimes.datascience), names.join());
  });

  it("runs a script on a warm pod of its runtime's pool, claimed and attached to with the chart's RBAC", async () => {
    await eventually("the release's warm pool to be ready", async () => {
      const runtime = (await custom.getClusterCustomObject({ ...RUNTIMES, name: runtimes.basic })) as ScriptRuntime;
      return runtime.status?.warm === "1/1" ? true : undefined;
    }, 120_000);
    await createRun(namespace, "warm", { script: "def main():\n    return 'warm'\n", runtime: runtimes.basic });
    const run = await finished(namespace, "warm");
    assert.deepEqual([run.status?.phase, run.status?.result, run.status?.start], ["Succeeded", "warm", "warm"], JSON.stringify(run.status));
  });

  it("uninstalls leaving nothing but the CRDs", async () => {
    // What the test itself made: its runs and its caller.
    await sh("kubectl", ["delete", "scriptruns", "--all", "-n", namespace, "--wait"]);
    await sh("kubectl", ["delete", "rolebinding/caller", "serviceaccount/caller", "-n", namespace]);
    await sh("helm", ["uninstall", release, "-n", namespace, "--wait", "--timeout", "120s"]);

    // Deleting is asynchronous (pods terminate, the garbage collector follows owners): wait for it.
    // Objects left are thrown, as a failing probe's error is: eventually's timeout names the last.
    const settled = (what: string, probe: () => Promise<string[]>) => eventually(what, async () => {
      const left = await probe();
      if (left.length > 0) throw new Error(`left: ${left.join(", ")}`);
      return true;
    }, 120_000);
    await settled("every object of the release to go", async () =>
      (await sh("kubectl", ["get", "-f", "-", "--ignore-not-found", "-o", "name"], manifest)).split("\n").filter(Boolean));
    const namespaced = (await sh("kubectl", ["api-resources", "--verbs=list", "--namespaced", "-o", "name"]))
      .split("\n").filter((r) => r && !/^events(\.|$)/.test(r));
    await settled("the namespace to hold only what Kubernetes puts in every namespace", async () =>
      (await sh("kubectl", ["get", namespaced.join(","), "-n", namespace, "--ignore-not-found", "-o", "name"])).split("\n")
        .filter((o) => o && !["configmap/kube-root-ca.crt", "serviceaccount/default"].includes(o)));
    const clusterScoped = (await sh("kubectl", ["api-resources", "--verbs=list", "--namespaced=false", "-o", "name"])).split("\n").filter(Boolean);
    const named = (await sh("kubectl", ["get", clusterScoped.join(","), "-o", "name"])).split("\n")
      .filter((o) => o.includes(namespace) && o !== `namespace/${namespace}`);
    assert.deepEqual(named, [], "cluster-scoped objects of the release are left");
    await sh("kubectl", ["get", "crd", "scriptruns.scriptrun.dev", "scriptruntimes.scriptrun.dev"]);
  });
});

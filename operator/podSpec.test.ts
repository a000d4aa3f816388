import assert from "node:assert/strict";
import { resolveRequest } from "../core/request.js";
import { parseKey } from "../core/runs.js";
import { childName, configMapNameFor, ownerRunKey, podNameFor, runLabelValue } from "./names.js";
import { runtimeLimits } from "../core/runtime.js";
import {
  MAX_ANNOTATED_REQUEST_BYTES, REQUEST_ANNOTATION, buildConfigMap, buildPod, podMemoryLimit, requiresObjectResult, runtimeOfPod, usesConfigMap,
} from "./podSpec.js";
import { aParsedRuntime, aRun, testConfig } from "./testkit.js";

const config = testConfig();

function build(spec: Record<string, unknown> = {}, runtimeSpec: Parameters<typeof aParsedRuntime>[1] = {}, env: Record<string, string> = {}) {
  const run = aRun("hello", spec, { namespace: "team-a" });
  const settings = testConfig(env);
  const runtime = aParsedRuntime("python", runtimeSpec);
  const resolution = resolveRequest(run.spec, runtimeLimits(runtime, settings.maxScriptBytes));
  assert.ok(resolution.ok);
  return { run, request: resolution.request, pod: buildPod(run, resolution.request, runtime, settings), configMap: buildConfigMap(run, resolution.request) };
}

describe("the runner pod", () => {
  it("is named after the run, labelled, and owned by it", () => {
    const { run, pod } = build();
    assert.equal(pod.metadata?.name, "hello-runner");
    assert.equal(pod.metadata?.namespace, "team-a");
    assert.deepEqual(pod.metadata?.labels, {
      "app.kubernetes.io/managed-by": "scriptrun-operator", "app.kubernetes.io/name": "scriptrun-runner", "scriptrun.dev/run": "hello",
    });
    assert.deepEqual(pod.metadata?.ownerReferences, [{
      apiVersion: "scriptrun.dev/v1alpha1", kind: "ScriptRun", name: "hello", uid: run.metadata.uid, controller: true, blockOwnerDeletion: true,
    }]);
    assert.equal(ownerRunKey(pod), "team-a/hello");
  });

  it("runs the harness on the mounted request, writes the termination message and frames its output live", () => {
    const { pod } = build();
    const container = pod.spec!.containers[0]!;
    assert.equal(container.image, "localhost/scriptrun/runner:test");
    assert.equal(container.imagePullPolicy, "IfNotPresent");
    assert.deepEqual(container.command, [
      "python3", "/opt/scriptrun/runner.py", "--request", "/var/run/scriptrun/request.json", "--termination-log", "/dev/termination-log",
      "--live-output"]);
    assert.equal(container.terminationMessagePolicy, "File");
    assert.deepEqual(container.volumeMounts, [
      { name: "request", mountPath: "/var/run/scriptrun", readOnly: true }, { name: "tmp", mountPath: "/tmp" }]);
    assert.deepEqual(pod.spec!.volumes![0]!.downwardAPI, { defaultMode: 0o444,
      items: [{ path: "request.json", fieldRef: { fieldPath: "metadata.annotations['scriptrun.dev/request']" } }] });
  });

  it("carries its request in an annotation, and one too large for that in its ConfigMap", () => {
    const { pod, request } = build();
    assert.deepEqual(JSON.parse(pod.metadata!.annotations![REQUEST_ANNOTATION]!), request);
    assert.equal(usesConfigMap(pod), false);
    const large = build({ script: `def main():\n    return ${JSON.stringify("é".repeat(MAX_ANNOTATED_REQUEST_BYTES / 2))}\n` });
    assert.equal(large.pod.metadata!.annotations![REQUEST_ANNOTATION], undefined);
    assert.deepEqual(large.pod.spec!.volumes![0]!.configMap, { name: "hello-request", defaultMode: 0o444 });
    assert.equal(usesConfigMap(large.pod), true);
    assert.deepEqual(JSON.parse(large.configMap.data!["request.json"]!), large.request);
  });

  it("has no credentials, no service links, no restarts and a deadline of timeout plus grace", () => {
    const { pod } = build({ timeoutSeconds: 20 });
    assert.equal(pod.spec!.automountServiceAccountToken, false);
    assert.equal(pod.spec!.enableServiceLinks, false);
    assert.equal(pod.spec!.restartPolicy, "Never");
    assert.equal(pod.spec!.activeDeadlineSeconds, 20 + 30);
  });

  it("runs as a non-root user without privileges, on a read-only root with a writable /tmp", () => {
    const { pod } = build();
    const container = pod.spec!.containers[0]!;
    assert.deepEqual(container.securityContext, {
      allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, readOnlyRootFilesystem: true, runAsNonRoot: true,
    });
    assert.equal(pod.spec!.securityContext!.runAsUser, 65532);
    assert.equal(pod.spec!.securityContext!.runAsNonRoot, true);
    // The sandbox inside needs to unshare namespaces, which the runtime's default profiles forbid.
    assert.deepEqual(pod.spec!.securityContext!.seccompProfile, { type: "Unconfined" });
    assert.deepEqual(pod.spec!.securityContext!.appArmorProfile, { type: "Unconfined" });
    assert.ok(pod.spec!.volumes!.some((v) => v.name === "tmp" && v.emptyDir));
  });

  it("asks for the spec's CPU and the sandbox memory plus the harness's headroom", () => {
    const { pod } = build({ resources: { cpu: "250m", memory: "128Mi" } });
    assert.deepEqual(pod.spec!.containers[0]!.resources, {
      requests: { cpu: "100m", memory: "192Mi" }, limits: { cpu: "250m", memory: "192Mi" } });
  });

  it("requests the runtime's CPU request, never more than the limit", () => {
    const cpu = (spec: Record<string, unknown>, cpuRequest?: string) =>
      build(spec, cpuRequest ? { pod: { cpuRequest } } : {}).pod.spec!.containers[0]!.resources!.requests!.cpu;
    assert.equal(cpu({ resources: { cpu: "50m" } }), "50m");
    assert.equal(cpu({ resources: { cpu: "1" } }, "250m"), "250m");
    assert.equal(cpu({ resources: { cpu: "1" } }, "2"), "1");
  });

  it("uses the runtime's defaults when the spec has no resources", () => {
    const { pod } = build();
    assert.deepEqual(pod.spec!.containers[0]!.resources!.limits, { cpu: "500m", memory: "320Mi" });
  });

  it("takes the pod's seccomp and AppArmor profiles from the runtime", () => {
    const { pod } = build({}, { pod: { seccompProfile: { type: "Localhost", localhostProfile: "profiles/scriptrun.json" }, appArmorProfile: { type: "RuntimeDefault" } } });
    assert.deepEqual(pod.spec!.securityContext!.seccompProfile, { type: "Localhost", localhostProfile: "profiles/scriptrun.json" });
    assert.deepEqual(pod.spec!.securityContext!.appArmorProfile, { type: "RuntimeDefault" });
  });

  it("runs the runtime's image, pulled with its policy and secrets, placed where the runtime says", () => {
    const { pod } = build({}, {
      image: "registry.example/runner-ml:2", imagePullPolicy: "Always", imagePullSecrets: [{ name: "registry" }],
      pod: { runtimeClassName: "gvisor", nodeSelector: { "sandbox.example/gvisor": "true" }, priorityClassName: "batch-low",
        tolerations: [{ key: "sandbox", operator: "Exists", effect: "NoSchedule" }] },
    });
    assert.equal(pod.spec!.containers[0]!.image, "registry.example/runner-ml:2");
    assert.equal(pod.spec!.containers[0]!.imagePullPolicy, "Always");
    assert.deepEqual(pod.spec!.imagePullSecrets, [{ name: "registry" }]);
    assert.equal(pod.spec!.runtimeClassName, "gvisor");
    assert.deepEqual(pod.spec!.nodeSelector, { "sandbox.example/gvisor": "true" });
    assert.equal(pod.spec!.priorityClassName, "batch-low");
    assert.deepEqual(pod.spec!.tolerations, [{ key: "sandbox", operator: "Exists", effect: "NoSchedule" }]);
    assert.deepEqual(runtimeOfPod(pod), { name: "python", image: "registry.example/runner-ml:2" });
  });

  it("carries the runtime's object-result rule, so a later change of the runtime cannot change the run", () => {
    assert.equal(requiresObjectResult(build().pod), false);
    assert.equal(requiresObjectResult(build({}, { requireObjectResult: true }).pod), true);
  });

  it("tells the runner which sandbox is required, and nothing when any will do", () => {
    assert.equal(build().pod.spec!.containers[0]!.env, undefined);
    assert.deepEqual(build({}, {}, { SCRIPTRUN_SANDBOX_BACKEND: "nsjail" }).pod.spec!.containers[0]!.env,
      [{ name: "SCRIPTRUN_SANDBOX_BACKEND", value: "nsjail" }]);
  });

  it("is the same object every time for the same run", () => {
    const run = aRun("same");
    const runtime = aParsedRuntime();
    const resolution = resolveRequest(run.spec, runtimeLimits(runtime, config.maxScriptBytes));
    assert.ok(resolution.ok);
    assert.deepEqual(buildPod(run, resolution.request, runtime, config), buildPod(run, resolution.request, runtime, config));
  });
});

describe("the request ConfigMap", () => {
  it("is immutable, owned by the run and carries the resolved request as request.json", () => {
    const { run, configMap, request } = build({ args: [1, null] });
    assert.equal(configMap.metadata?.name, "hello-request");
    assert.equal(configMap.immutable, true);
    assert.equal(configMap.metadata?.ownerReferences?.[0]?.uid, run.metadata.uid);
    assert.deepEqual(JSON.parse(configMap.data!["request.json"]!), request);
  });
});

describe("child names", () => {
  it("append the suffix to short run names", () => {
    assert.equal(podNameFor("r1"), "r1-runner");
    assert.equal(configMapNameFor("r1"), "r1-request");
  });

  it("stay within 63 characters, deterministic and distinct for long run names", () => {
    const long = `${"a".repeat(70)}.b`;
    const other = `${"a".repeat(70)}.c`;
    const name = podNameFor(long);
    assert.ok(name.length <= 63, name);
    assert.match(name, /^a+-[0-9a-f]{8}-runner$/);
    assert.equal(podNameFor(long), name);
    assert.notEqual(podNameFor(other), name);
    assert.ok(runLabelValue(long).length <= 63);
    assert.match(childName(`${"x".repeat(50)}-${"y".repeat(20)}`, "-request"), /^x+-[0-9a-f]{8}-request$/);
  });

  it("make the memory limit exact", () => {
    assert.equal(podMemoryLimit("1Gi", "64Mi"), "1088Mi");
    assert.equal(podMemoryLimit("1G", "64Mi"), "1067108864");
  });

  it("split queue keys into namespace and name", () => {
    assert.deepEqual(parseKey("ns/run.1"), { namespace: "ns", name: "run.1" });
    assert.throws(() => parseKey("no-namespace"), /not a namespace\/name key/);
  });
});

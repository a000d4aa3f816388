import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { V1ContainerState, V1Pod } from "@kubernetes/client-node";
import { type RunnerRequest, resolveRequest } from "../core/request.js";
import { type Runtime, runtimeLimits } from "../core/runtime.js";
import type { ScriptRunSpecInput } from "../crds/schema.js";
import { ownerRunKey, ownerRunUid } from "./names.js";
import { OBJECT_RESULT_ANNOTATION, RUNTIME_ANNOTATION, requiresObjectResult, runtimeOfPod } from "./podSpec.js";
import { T0, aParsedRuntime, applyMergePatch, aRun, running, terminated, testConfig } from "./testkit.js";
import {
  POOL_LABEL, START_ANNOTATION, TEMPLATE_LABEL, claimPatch, poolPod, poolPodState, poolServes, requestFrame, startedWarm, templateOf,
} from "./warmPool.js";

const settings = testConfig();

type RuntimeSpec = Parameters<typeof aParsedRuntime>[1];

function pooled(spec: RuntimeSpec = {}, namespace = "team-a", env: Record<string, string> = {}): { runtime: Runtime; pod: V1Pod } {
  const runtime = aParsedRuntime("python", spec);
  return { runtime, pod: poolPod(runtime, namespace, "uid-runtime-python", testConfig(env)) };
}

const template = (spec: RuntimeSpec = {}, env: Record<string, string> = {}) => templateOf(pooled(spec, "team-a", env).pod);

/** A pool pod as the cache would hold it once the apiserver named it and the kubelet reported on it. */
function observed(pod: V1Pod, status: { phase?: string; reason?: string; state?: V1ContainerState; deleting?: boolean } = {}): V1Pod {
  const copy = structuredClone(pod);
  copy.metadata = { ...copy.metadata, name: "python-warm-x7k2p", resourceVersion: "4711", creationTimestamp: new Date(T0) };
  if (status.deleting) copy.metadata.deletionTimestamp = new Date(T0 + 60_000);
  copy.status = {
    phase: status.phase ?? "Pending",
    ...(status.reason ? { reason: status.reason } : {}),
    ...(status.state ? { containerStatuses: [{ name: "runner", image: "i", imageID: "", ready: true, restartCount: 0, state: status.state }] } : {}),
  };
  return copy;
}

function requestFor(runtime: Runtime, spec: Partial<ScriptRunSpecInput> = {}): RunnerRequest {
  const resolution = resolveRequest(aRun("r", spec).spec, runtimeLimits(runtime, settings.maxScriptBytes));
  if (!resolution.ok) throw new Error(resolution.reasons.join("; "));
  return resolution.request;
}


describe("a warm pool pod", () => {
  it("runs the runtime's image, placed and confined as the runtime says", () => {
    const { pod } = pooled({
      image: "registry.example/runner:2", imagePullPolicy: "Always", imagePullSecrets: [{ name: "pull" }],
      pod: {
        runtimeClassName: "gvisor", nodeSelector: { pool: "scripts" }, priorityClassName: "low",
        tolerations: [{ key: "dedicated", operator: "Equal", value: "scripts", effect: "NoSchedule" }],
        seccompProfile: { type: "Localhost", localhostProfile: "scriptrun.json" },
      },
    });
    const spec = pod.spec!;
    const container = spec.containers[0]!;
    assert.equal(container.image, "registry.example/runner:2");
    assert.equal(container.imagePullPolicy, "Always");
    assert.deepEqual(spec.imagePullSecrets, [{ name: "pull" }]);
    assert.equal(spec.runtimeClassName, "gvisor");
    assert.deepEqual(spec.nodeSelector, { pool: "scripts" });
    assert.equal(spec.priorityClassName, "low");
    assert.deepEqual(spec.tolerations, [{ key: "dedicated", operator: "Equal", value: "scripts", effect: "NoSchedule" }]);
    assert.deepEqual(spec.securityContext?.seccompProfile, { type: "Localhost", localhostProfile: "scriptrun.json" });
    assert.equal(spec.automountServiceAccountToken, false, "a pool pod carries no credentials either");
    assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
  });

  it("waits for one request on stdin, with the warm command and no deadline until it is claimed", () => {
    const { pod } = pooled();
    const container = pod.spec!.containers[0]!;
    assert.equal(container.stdin, true);
    assert.equal(container.stdinOnce, true);
    assert.ok(container.command?.includes("--warm"), `command: ${container.command?.join(" ")}`);
    assert.ok(!container.command?.includes("--request"), "a warm pod has no request mounted");
    assert.equal(pod.spec!.activeDeadlineSeconds, undefined);
    assert.equal(pod.spec!.restartPolicy, "Never");
  });

  it("bounds its sandbox by the runtime's default memory and the maxima of the rest", () => {
    const { pod } = pooled({
      defaults: { memory: "300Mi", cpu: "250m", pids: 32, timeoutSeconds: 5, outputBytes: 1000 },
      maxima: { memory: "1Gi", cpu: "2", pids: 200, timeoutSeconds: 120, outputBytes: 5000 },
    });
    const container = pod.spec!.containers[0]!;
    const bounds = container.env?.find((e) => e.name === "SCRIPTRUN_WARM_LIMITS")?.value;
    assert.ok(bounds, "SCRIPTRUN_WARM_LIMITS is set");
    assert.deepEqual(JSON.parse(bounds), { memory: "300Mi", pids: 200, timeoutSeconds: 120, outputBytes: 5000 });
    assert.equal(container.resources?.limits?.cpu, "250m", "its CPU is the runtime's default");
    assert.equal(container.resources?.limits?.memory, "364Mi", "its memory is the default plus the harness's headroom");
  });

  it("tells the sandbox backend the operator is configured for, beside its bounds", () => {
    const { pod } = pooled({}, "team-a", { SCRIPTRUN_SANDBOX_BACKEND: "bubblewrap" });
    const names = pod.spec!.containers[0]!.env?.map((e) => e.name);
    assert.deepEqual(names?.sort(), ["SCRIPTRUN_SANDBOX_BACKEND", "SCRIPTRUN_WARM_LIMITS"]);
  });

  it("is owned by its ScriptRuntime, in the pool's namespace, with a name the apiserver completes", () => {
    const { pod } = pooled({}, "team-b");
    assert.equal(pod.metadata?.namespace, "team-b");
    assert.equal(pod.metadata?.name, undefined);
    assert.match(pod.metadata?.generateName ?? "", /^python-warm-$/);
    assert.deepEqual(pod.metadata?.ownerReferences, [
      { apiVersion: "scriptrun.dev/v1alpha1", kind: "ScriptRuntime", name: "python", uid: "uid-runtime-python", controller: true }]);
    assert.equal(ownerRunKey(pod), undefined, "no run owns it yet");
  });

  it("is labelled with its pool and template, and annotated with its runtime as any runner pod is", () => {
    const { pod } = pooled({ requireObjectResult: true });
    assert.equal(pod.metadata?.labels?.[POOL_LABEL], "python");
    assert.match(pod.metadata?.labels?.[TEMPLATE_LABEL] ?? "", /^[0-9a-f]{16}$/);
    assert.equal(pod.metadata?.labels?.["app.kubernetes.io/managed-by"], "scriptrun-operator");
    assert.equal(pod.metadata?.annotations?.[RUNTIME_ANNOTATION], "python");
    assert.equal(requiresObjectResult(pod), true);
    assert.deepEqual(runtimeOfPod(pod), { name: "python", image: "localhost/scriptrun/runner:test" });
  });
});

describe("the pool template", () => {
  const base = template();

  it("changes with the image and its pull policy", () => {
    assert.notEqual(template({ image: "localhost/scriptrun/runner:other" }), base);
    assert.notEqual(template({ imagePullPolicy: "Always" }), base);
    assert.notEqual(template({ imagePullSecrets: [{ name: "pull" }] }), base);
  });

  it("changes with the pod's placement and confinement", () => {
    assert.notEqual(template({ pod: { runtimeClassName: "gvisor" } }), base);
    assert.notEqual(template({ pod: { nodeSelector: { a: "b" } } }), base);
    assert.notEqual(template({ pod: { cpuRequest: "50m" } }), base);
    assert.notEqual(template({ pod: { seccompProfile: { type: "RuntimeDefault" } } }), base);
  });

  it("changes with the limits the pod is started for", () => {
    assert.notEqual(template({ defaults: { memory: "128Mi" } }), base);
    assert.notEqual(template({ defaults: { cpu: "250m" } }), base);
    assert.notEqual(template({ maxima: { pids: 100 } }), base);
    assert.notEqual(template({ maxima: { timeoutSeconds: 60 } }), base);
    assert.notEqual(template({ maxima: { outputBytes: 8 * 1024 * 1024 } }), base);
  });

  it("changes with requireObjectResult, which the pod carries", () => {
    assert.notEqual(template({ requireObjectResult: true }), base);
  });

  it("changes with the operator's pod settings", () => {
    assert.notEqual(template({}, { SCRIPTRUN_MEMORY_HEADROOM: "128Mi" }), base);
    assert.notEqual(template({}, { SCRIPTRUN_SANDBOX_BACKEND: "nsjail" }), base);
  });

  it("stays the same for what the pod does not carry: pool size and namespaces, imports, modules, selector, other limits", () => {
    assert.equal(template({ warmPool: { size: 5, namespaces: ["a", "b"] } }), base);
    assert.equal(template({ imports: { deny: ["os"] } }), base);
    assert.equal(template({ modules: ["sklearn"] }), base);
    assert.equal(template({ namespaceSelector: { matchLabels: { team: "a" } } }), base);
    assert.equal(template({ defaults: { timeoutSeconds: 20, pids: 10, outputBytes: 10 } }), base);
    assert.equal(template({ maxima: { cpu: "4", memory: "4Gi" } }), base);
  });

  it("is the same in every namespace and for every uid of the runtime", () => {
    const runtime = aParsedRuntime("python");
    assert.equal(templateOf(poolPod(runtime, "a", "uid-1", settings)), templateOf(poolPod(runtime, "b", "uid-2", settings)));
  });
});

describe("a pool pod's state", () => {
  const { pod } = pooled();
  const current = templateOf(pod)!;

  it("is ready when running with its runner up, of the current template, not being deleted", () => {
    const state = poolPodState(observed(pod, { phase: "Running", state: running() }), current);
    assert.deepEqual({ name: state.name, ready: state.ready, stale: state.stale }, { name: "python-warm-x7k2p", ready: true, stale: false });
  });

  it("is neither ready nor stale while it starts", () => {
    for (const starting of [observed(pod), observed(pod, { phase: "Pending", state: { waiting: { reason: "ContainerCreating" } } }),
      observed(pod, { phase: "Running" }), observed(pod, { phase: "Running", state: { waiting: { reason: "CrashLoopBackOff" } } })]) {
      const state = poolPodState(starting, current);
      assert.deepEqual([state.ready, state.stale], [false, false], JSON.stringify(starting.status));
    }
  });

  it("is neither ready nor stale once it is being deleted, even when outdated or ended", () => {
    for (const status of [{ phase: "Running", state: running() }, { phase: "Succeeded", state: terminated(undefined) }]) {
      const state = poolPodState(observed(pod, { ...status, deleting: true }), current);
      assert.deepEqual([state.ready, state.stale], [false, false]);
      assert.equal(poolPodState(observed(pod, { ...status, deleting: true }), "another").stale, false);
    }
  });

  it("is stale when it ended, failed or was evicted", () => {
    const ended = [
      observed(pod, { phase: "Succeeded", state: terminated(undefined) }),
      observed(pod, { phase: "Failed", state: terminated(undefined, { exitCode: 1, reason: "Error" }) }),
      observed(pod, { phase: "Failed", reason: "Evicted" }),
      observed(pod, { phase: "Running", state: terminated(undefined, { exitCode: 137, reason: "OOMKilled" }) }),
    ];
    for (const gone of ended) {
      const state = poolPodState(gone, current);
      assert.deepEqual([state.ready, state.stale], [false, true], JSON.stringify(gone.status));
    }
  });

  it("is stale when it is of an earlier template, however ready it is", () => {
    const state = poolPodState(observed(pod, { phase: "Running", state: running() }), template({ image: "localhost/scriptrun/runner:new" })!);
    assert.deepEqual([state.ready, state.stale], [false, true]);
  });
});

describe("whether a pool serves a run", () => {
  const runtime = aParsedRuntime("python", { defaults: { cpu: "500m", memory: "256Mi" } });

  it("serves a run with the runtime's default CPU and memory", () => {
    assert.equal(poolServes(runtime, requestFor(runtime)), true);
  });

  it("serves a run that asks for the same CPU and memory written another way", () => {
    assert.equal(poolServes(runtime, requestFor(runtime, { resources: { cpu: "0.5", memory: "0.25Gi" } })), true);
    assert.equal(poolServes(runtime, requestFor(runtime, { resources: { cpu: "500m", memory: "268435456" } })), true);
  });

  it("serves a run asking for 700m on a runtime whose default CPU is 0.7", () => {
    const seventh = aParsedRuntime("python", { defaults: { cpu: "0.7" } });
    assert.equal(poolServes(seventh, requestFor(seventh, { resources: { cpu: "700m" } })), true);
  });

  it("does not serve a run asking for other CPU or memory, more or less", () => {
    assert.equal(poolServes(runtime, requestFor(runtime, { resources: { cpu: "1" } })), false);
    assert.equal(poolServes(runtime, requestFor(runtime, { resources: { cpu: "250m" } })), false);
    assert.equal(poolServes(runtime, requestFor(runtime, { resources: { memory: "512Mi" } })), false);
    assert.equal(poolServes(runtime, requestFor(runtime, { resources: { memory: "128Mi" } })), false);
  });

  it("serves runs asking for other pids, output or timeout within the maxima, which bound the pod", () => {
    assert.equal(poolServes(runtime, requestFor(runtime, { timeoutSeconds: 60, limits: { pids: 500, outputBytes: 2048 } })), true);
  });
});

describe("the claim of a pool pod", () => {
  const { runtime, pod: built } = pooled();
  const pod = observed(built, { phase: "Running", state: running() });
  pod.status!.startTime = new Date(T0);
  const run = aRun("claimer", {}, { namespace: "team-a" });
  const request = requestFor(runtime, { timeoutSeconds: 20 });
  const grace = 30;

  it("carries the resourceVersion the controller saw, so that a changed pod is not claimed", () => {
    const patch = claimPatch(pod, run, request, grace, T0 + 5_000) as { metadata: { resourceVersion?: string } };
    assert.equal(patch.metadata.resourceVersion, "4711");
  });

  it("takes the pod out of its pool and gives it to the run, started warm", () => {
    const claimed = applyMergePatch(pod, claimPatch(pod, run, request, grace, T0 + 5_000)) as V1Pod;
    assert.equal(claimed.metadata?.labels?.[POOL_LABEL], undefined);
    assert.equal(claimed.metadata?.labels?.[TEMPLATE_LABEL], undefined);
    assert.equal(claimed.metadata?.labels?.["scriptrun.dev/run"], "claimer");
    assert.equal(claimed.metadata?.labels?.["app.kubernetes.io/managed-by"], "scriptrun-operator", "it stays a pod the controller watches");
    assert.deepEqual(claimed.metadata?.ownerReferences, [
      { apiVersion: "scriptrun.dev/v1alpha1", kind: "ScriptRun", name: "claimer", uid: run.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    assert.equal(ownerRunKey(claimed), "team-a/claimer");
    assert.equal(ownerRunUid(claimed), run.metadata.uid);
    assert.equal(claimed.metadata?.annotations?.[START_ANNOTATION], "warm");
    assert.equal(startedWarm(claimed), true);
    assert.equal(claimed.metadata?.annotations?.[RUNTIME_ANNOTATION], "python", "what the run is judged by stays on the pod");
    assert.equal(claimed.metadata?.annotations?.[OBJECT_RESULT_ANNOTATION], undefined);
  });

  it("gives the pod a deadline of its age when claimed plus the run's timeout and the grace", () => {
    const claimed = claimPatch(pod, run, request, grace, T0 + 90_000) as { spec: { activeDeadlineSeconds: number } };
    assert.equal(claimed.spec.activeDeadlineSeconds, 90 + 20 + 30);
  });

  it("counts the pod's age from when it started, not from when it was created, in whole seconds rounded up", () => {
    const late = structuredClone(pod);
    late.metadata!.creationTimestamp = new Date(T0 - 600_000);
    const claimed = claimPatch(late, run, request, grace, T0 + 1_500) as { spec: { activeDeadlineSeconds: number } };
    assert.equal(claimed.spec.activeDeadlineSeconds, 2 + 20 + 30);
  });

  it("is not started warm before the claim", () => {
    assert.equal(startedWarm(pod), false);
  });
});

describe("the request frame", () => {
  const runtime = aParsedRuntime("python");
  const request = requestFor(runtime, { script: "def main():\n    return 'π ≈ 3.14159 ✓'\n", stdin: "line one\nline two\n", args: [1, "ü"] });

  it("is one line: the SHA-256 of the request's JSON, a space, and that JSON", () => {
    const frame = requestFrame(request);
    assert.ok(frame.endsWith("\n"));
    assert.equal(frame.indexOf("\n"), frame.length - 1, "newlines inside the request are escaped by JSON");
    const line = frame.slice(0, -1);
    const space = line.indexOf(" ");
    const [digest, json] = [line.slice(0, space), line.slice(space + 1)];
    assert.match(digest, /^[0-9a-f]{64}$/);
    assert.equal(digest, createHash("sha256").update(Buffer.from(json, "utf8")).digest("hex"), "the hash is of the JSON's UTF-8 bytes");
    assert.deepEqual(JSON.parse(json), request);
  });

  it("differs when the request does", () => {
    assert.notEqual(requestFrame(request).slice(0, 64), requestFrame({ ...request, timeoutSeconds: request.timeoutSeconds + 1 }).slice(0, 64));
  });
});

// ScriptRun + resolved request + its runtime + configuration → the runner pod, carrying the request
// in an annotation, and for a request too large for one the ConfigMap carrying it instead
// (docs/architecture.md). Pure: the same run always yields the same objects.
// The runtime's name and what the controller judges the outcome by (requireObjectResult) go on the
// pod, so that a later change to the runtime never changes a run already started.
import type { V1ConfigMap, V1Container, V1OwnerReference, V1Pod, V1PodSpec, V1Volume } from "@kubernetes/client-node";
import { formatBytes, parseQuantity } from "../core/quantity.js";
import type { RunnerRequest } from "../core/request.js";
import type { Runtime } from "../core/runtime.js";
import type { RunRuntime } from "../crds/schema.js";
import { API_VERSION, KIND, type ScriptRun } from "../crds/schema.js";
import type { Config } from "./config.js";
import { MANAGED_BY, MANAGED_BY_LABEL, RUN_LABEL, RUNNER_CONTAINER, configMapNameFor, podNameFor, runLabelValue } from "./names.js";

export type PodSettings = Pick<Config, "memoryHeadroom" | "deadlineGraceSeconds" | "sandboxBackend">;

/** The runtime a pod was built from. */
export const RUNTIME_ANNOTATION = "scriptrun.dev/runtime";
/** Set when the pod's runtime requires an object result (requireObjectResult). */
export const OBJECT_RESULT_ANNOTATION = "scriptrun.dev/require-object-result";

/** The annotation that carries a request into its pod, shown to the runner as a file by the
 * downward API: no second object to create, delete and watch per run, as a ConfigMap was. */
export const REQUEST_ANNOTATION = "scriptrun.dev/request";
/** Larger requests travel in a ConfigMap. A pod's annotations may hold 256 KiB in all, and each of
 * the pod's updates carries them to every watcher of pods (kubelet, scheduler, controller). */
export const MAX_ANNOTATED_REQUEST_BYTES = 16 * 1024;
export const REQUEST_VOLUME = "request";
export const REQUEST_KEY = "request.json";
export const REQUEST_DIR = "/var/run/scriptrun";
export const TERMINATION_LOG = "/dev/termination-log";
export const RUNNER_UID = 65532;
const RUNNER_PATH = "/opt/scriptrun/runner.py";
// The harness's scratch space; the sandbox gets its own private /tmp inside it.
const TMP_SIZE = "256Mi";

function ownerReference(run: ScriptRun): V1OwnerReference {
  const { name, uid } = run.metadata;
  if (!name || !uid) throw new Error("A ScriptRun without name or uid cannot own anything");
  return { apiVersion: API_VERSION, kind: KIND, name, uid, controller: true, blockOwnerDeletion: true };
}

function labels(run: ScriptRun): Record<string, string> {
  return {
    [MANAGED_BY_LABEL]: MANAGED_BY,
    "app.kubernetes.io/name": "scriptrun-runner",
    [RUN_LABEL]: runLabelValue(run.metadata.name ?? ""),
  };
}

/** The immutable ConfigMap that carries a request too large for the pod's annotation. */
export function buildConfigMap(run: ScriptRun, request: RunnerRequest): V1ConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: configMapNameFor(run.metadata.name ?? ""),
      namespace: run.metadata.namespace,
      labels: labels(run),
      ownerReferences: [ownerReference(run)],
    },
    immutable: true,
    data: { [REQUEST_KEY]: JSON.stringify(request) },
  };
}

/** The pod's memory limit: the sandbox's memory plus room for the harness, so the harness sees the
 * script hit its limit and reports memory_limit before the kubelet OOM-kills the whole container. */
export function podMemoryLimit(sandboxMemory: string, headroom: string): string {
  return formatBytes(parseQuantity(sandboxMemory) + parseQuantity(headroom));
}

/** What a pod ran on: its runtime's name, and the image it was given. */
export function runtimeOfPod(pod: V1Pod): RunRuntime | undefined {
  const name = pod.metadata?.annotations?.[RUNTIME_ANNOTATION];
  const image = pod.spec?.containers.find((c) => c.name === RUNNER_CONTAINER)?.image;
  return name !== undefined && image !== undefined ? { name, image } : undefined;
}

export function requiresObjectResult(pod: V1Pod): boolean {
  return pod.metadata?.annotations?.[OBJECT_RESULT_ANNOTATION] === "true";
}

/** What every runner pod is, cold or warm: the runtime's placement, confinement and image, the
 * sandbox's memory plus headroom, no credentials, a read-only root with a small writable /tmp. */
function runnerPod(runtime: Runtime, resources: { cpu: string; memory: string }, settings: PodSettings,
  container: Pick<V1Container, "command"> & Partial<V1Container>, volumes: V1Volume[] = []): V1PodSpec {
  const { image, imagePullPolicy, imagePullSecrets, pod: placement } = runtime.spec;
  const limits = { cpu: resources.cpu, memory: podMemoryLimit(resources.memory, settings.memoryHeadroom) };
  // The CPU limit is the script's; the request is what the scheduler reserves. A run is short and
  // mostly waits on the pod's start and end, so reserving its whole limit would fit only a few runs
  // on a node (3 per 2 cores at 500m) and queue the rest in the scheduler's backoff. Memory is
  // requested whole: a run must not be OOM-killed because a neighbour grew.
  const cpuRequest = parseQuantity(placement.cpuRequest) > parseQuantity(limits.cpu) ? limits.cpu : placement.cpuRequest;
  const env = [...(settings.sandboxBackend !== "auto" ? [{ name: "SCRIPTRUN_SANDBOX_BACKEND", value: settings.sandboxBackend }] : []), ...(container.env ?? [])];
  return {
    restartPolicy: "Never",
    ...(placement.runtimeClassName !== undefined ? { runtimeClassName: placement.runtimeClassName } : {}),
    ...(placement.nodeSelector !== undefined ? { nodeSelector: placement.nodeSelector } : {}),
    ...(placement.tolerations !== undefined ? { tolerations: placement.tolerations } : {}),
    ...(placement.priorityClassName !== undefined ? { priorityClassName: placement.priorityClassName } : {}),
    ...(imagePullSecrets !== undefined ? { imagePullSecrets } : {}),
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: 5,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: RUNNER_UID,
      runAsGroup: RUNNER_UID,
      // bubblewrap and nsjail unshare user, mount, pid and network namespaces to build the
      // sandbox; the RuntimeDefault seccomp profile (and the default AppArmor profile) forbid
      // exactly those calls. Hence Unconfined by default (the runtime's choice), or a Localhost
      // profile that allows them. The sandbox inside applies its own, narrower syscall policy.
      seccompProfile: placement.seccompProfile,
      appArmorProfile: placement.appArmorProfile,
    },
    containers: [{
      name: RUNNER_CONTAINER,
      image,
      imagePullPolicy,
      ...container,
      ...(env.length > 0 ? { env } : {}),
      terminationMessagePath: TERMINATION_LOG,
      terminationMessagePolicy: "File",
      resources: { requests: { ...limits, cpu: cpuRequest }, limits },
      securityContext: {
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
      },
      volumeMounts: [...(container.volumeMounts ?? []), { name: "tmp", mountPath: "/tmp" }],
    }],
    volumes: [...volumes, { name: "tmp", emptyDir: { sizeLimit: TMP_SIZE } }],
  };
}

/** The annotations that pin what a run is judged by to its pod. */
export function runtimeAnnotations(runtime: Runtime): Record<string, string> {
  return {
    [RUNTIME_ANNOTATION]: runtime.name,
    ...(runtime.spec.requireObjectResult ? { [OBJECT_RESULT_ANNOTATION]: "true" } : {}),
  };
}

/** Whether the pod reads its request from the run's ConfigMap (a request too large to annotate). */
export function usesConfigMap(pod: V1Pod): boolean {
  return pod.spec?.volumes?.some((v) => v.name === REQUEST_VOLUME && v.configMap !== undefined) === true;
}

export function buildPod(run: ScriptRun, request: RunnerRequest, runtime: Runtime, settings: PodSettings): V1Pod {
  const runName = run.metadata.name ?? "";
  const json = JSON.stringify(request);
  const annotated = Buffer.byteLength(json) <= MAX_ANNOTATED_REQUEST_BYTES;
  const source: V1Volume = annotated
    ? { name: REQUEST_VOLUME, downwardAPI: { defaultMode: 0o444,
      items: [{ path: REQUEST_KEY, fieldRef: { fieldPath: `metadata.annotations['${REQUEST_ANNOTATION}']` } }] } }
    : { name: REQUEST_VOLUME, configMap: { name: configMapNameFor(runName), defaultMode: 0o444 } };
  const spec = runnerPod(runtime, request.resources, settings, {
    command: ["python3", RUNNER_PATH, "--request", `${REQUEST_DIR}/${REQUEST_KEY}`, "--termination-log", TERMINATION_LOG, "--live-output"],
    volumeMounts: [{ name: REQUEST_VOLUME, mountPath: REQUEST_DIR, readOnly: true }],
  }, [source]);
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: podNameFor(runName),
      namespace: run.metadata.namespace,
      labels: labels(run),
      annotations: { ...runtimeAnnotations(runtime), ...(annotated ? { [REQUEST_ANNOTATION]: json } : {}) },
      ownerReferences: [ownerReference(run)],
    },
    // The deadline is a backstop only: the harness enforces timeoutSeconds itself and reports timeout.
    spec: { ...spec, activeDeadlineSeconds: request.timeoutSeconds + settings.deadlineGraceSeconds },
  };
}

/** The pod spec of a warm pod of `runtime`: started before its run, waiting for the request on
 * stdin (runner.py --warm), with the runtime's default CPU and memory and its maxima as bounds. */
export function warmPodSpec(runtime: Runtime, settings: PodSettings): V1PodSpec {
  const { defaults, maxima } = runtime.spec;
  const bounds = { memory: defaults.memory, pids: maxima.pids, timeoutSeconds: maxima.timeoutSeconds, outputBytes: maxima.outputBytes };
  return runnerPod(runtime, { cpu: defaults.cpu, memory: defaults.memory }, settings, {
    command: ["python3", RUNNER_PATH, "--warm", "--termination-log", TERMINATION_LOG, "--live-output"],
    env: [{ name: "SCRIPTRUN_WARM_LIMITS", value: JSON.stringify(bounds) }],
    // One attach gives the request; its end closes stdin for good, so no second request can come.
    stdin: true,
    stdinOnce: true,
  });
}

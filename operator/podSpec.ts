// ScriptRun + resolved request + its runtime + configuration → the ConfigMap carrying the request
// and the runner pod (docs/architecture.md). Pure: the same run always yields the same objects.
// The runtime's name and what the controller judges the outcome by (requireObjectResult) go on the
// pod, so that a later change to the runtime never changes a run already started.
import type { V1ConfigMap, V1OwnerReference, V1Pod } from "@kubernetes/client-node";
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

export const REQUEST_KEY = "request.json";
export const REQUEST_DIR = "/var/run/scriptrun";
export const TERMINATION_LOG = "/dev/termination-log";
export const RUNNER_UID = 65532;
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

/** The immutable ConfigMap that carries the request into the pod. */
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

export function buildPod(run: ScriptRun, request: RunnerRequest, runtime: Runtime, settings: PodSettings): V1Pod {
  const runName = run.metadata.name ?? "";
  const { image, imagePullPolicy, imagePullSecrets, requireObjectResult, pod: placement } = runtime.spec;
  const memory = podMemoryLimit(request.resources.memory, settings.memoryHeadroom);
  const limits = { cpu: request.resources.cpu, memory };
  // The CPU limit is the script's; the request is what the scheduler reserves. A run is short and
  // mostly waits on the pod's start and end, so reserving its whole limit would fit only a few runs
  // on a node (3 per 2 cores at 500m) and queue the rest in the scheduler's backoff. Memory is
  // requested whole: a run must not be OOM-killed because a neighbour grew.
  const cpuRequest = parseQuantity(placement.cpuRequest) > parseQuantity(limits.cpu) ? limits.cpu : placement.cpuRequest;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: podNameFor(runName),
      namespace: run.metadata.namespace,
      labels: labels(run),
      annotations: {
        [RUNTIME_ANNOTATION]: runtime.name,
        ...(requireObjectResult ? { [OBJECT_RESULT_ANNOTATION]: "true" } : {}),
      },
      ownerReferences: [ownerReference(run)],
    },
    spec: {
      restartPolicy: "Never",
      ...(placement.runtimeClassName !== undefined ? { runtimeClassName: placement.runtimeClassName } : {}),
      ...(placement.nodeSelector !== undefined ? { nodeSelector: placement.nodeSelector } : {}),
      ...(placement.tolerations !== undefined ? { tolerations: placement.tolerations } : {}),
      ...(placement.priorityClassName !== undefined ? { priorityClassName: placement.priorityClassName } : {}),
      ...(imagePullSecrets !== undefined ? { imagePullSecrets } : {}),
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      // A backstop only: the harness enforces timeoutSeconds itself and reports timeout.
      activeDeadlineSeconds: request.timeoutSeconds + settings.deadlineGraceSeconds,
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
        command: ["python3", "/opt/scriptrun/runner.py", "--request", `${REQUEST_DIR}/${REQUEST_KEY}`, "--termination-log", TERMINATION_LOG],
        ...(settings.sandboxBackend !== "auto" ? { env: [{ name: "SCRIPTRUN_SANDBOX_BACKEND", value: settings.sandboxBackend }] } : {}),
        terminationMessagePath: TERMINATION_LOG,
        terminationMessagePolicy: "File",
        resources: { requests: { ...limits, cpu: cpuRequest }, limits },
        securityContext: {
          allowPrivilegeEscalation: false,
          capabilities: { drop: ["ALL"] },
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
        },
        volumeMounts: [
          { name: "request", mountPath: REQUEST_DIR, readOnly: true },
          { name: "tmp", mountPath: "/tmp" },
        ],
      }],
      volumes: [
        { name: "request", configMap: { name: configMapNameFor(runName), defaultMode: 0o444 } },
        { name: "tmp", emptyDir: { sizeLimit: TMP_SIZE } },
      ],
    },
  };
}

// The ScriptRuntime shape, once: what a script runs on (image, limits, import policy, placement and
// confinement of its pod, who may use it). Cluster-scoped, like a StorageClass; the CRD
// (generate.ts), the controller and the API all read runtimes through these schemas.
import { z } from "zod";
import { ConditionSchema, ImportPolicySchema, type ObjectMeta, quantity } from "./schema.js";

export const RUNTIME_KIND = "ScriptRuntime";
export const RUNTIME_PLURAL = "scriptruntimes";
export const RUNTIME_SINGULAR = "scriptruntime";
export const RUNTIME_SHORT_NAMES = ["srt"];
/** The annotation that makes a runtime the one runs get when they name none. */
export const DEFAULT_RUNTIME_ANNOTATION = "scriptrun.dev/is-default-runtime";

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const MODULE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The limits a runtime has when its spec says nothing: the operator's former defaults. */
export const BUILTIN_DEFAULTS = { timeoutSeconds: 10, cpu: "500m", memory: "256Mi", pids: 64, outputBytes: 1024 * 1024 } as const;
export const BUILTIN_MAXIMA = { timeoutSeconds: 300, cpu: "2", memory: "2Gi", pids: 1024, outputBytes: 4 * 1024 * 1024 } as const;

function limitSet(values: typeof BUILTIN_DEFAULTS | typeof BUILTIN_MAXIMA, which: string) {
  return z.object({
    timeoutSeconds: z.int().min(1).max(3600).default(values.timeoutSeconds).describe(`Wall-clock limit of a run in seconds: the ${which}.`),
    cpu: quantity().default(values.cpu).describe(`CPU of a run as a Kubernetes quantity: the ${which}.`),
    memory: quantity().default(values.memory).describe(`Memory of a run's sandbox as a Kubernetes quantity: the ${which}.`),
    pids: z.int().min(1).max(65536).default(values.pids).describe(`Processes and threads a script may have at once: the ${which}.`),
    outputBytes: z.int().min(1).max(1024 * 1024 * 1024).default(values.outputBytes).describe(`Bytes a script may write to stdout, and as many to stderr: the ${which}.`),
  });
}

const ProfileSchema = (what: string) => z.object({
  type: z.enum(["Unconfined", "RuntimeDefault", "Localhost"]).describe(`Kind of ${what} profile.`),
  localhostProfile: z.string().min(1).max(4096).optional().describe("The profile's name on the node, when type is Localhost."),
}).meta({ "x-kubernetes-validations": [{ rule: "self.type == 'Localhost' ? has(self.localhostProfile) : !has(self.localhostProfile)", message: "localhostProfile is set exactly when type is Localhost" }] });

export const TolerationSchema = z.object({
  key: z.string().regex(LABEL_KEY).max(316).optional().describe("Taint key the toleration matches; empty with operator Exists matches every taint."),
  operator: z.enum(["Exists", "Equal"]).default("Equal").describe("Exists or Equal (to value)."),
  value: z.string().max(63).optional().describe("Taint value the toleration matches, with operator Equal."),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional().describe("Taint effect matched; empty matches all effects."),
  tolerationSeconds: z.int().optional().describe("How long a NoExecute taint is tolerated; absent: forever."),
}).describe("A toleration of the runner pods, as in a pod spec.");

export const LabelSelectorSchema = z.object({
  matchLabels: z.record(z.string().regex(LABEL_KEY), z.string().max(63)).optional()
    .describe("Labels the namespace must have, all of them."),
  matchExpressions: z.array(z.object({
    key: z.string().regex(LABEL_KEY).max(316).describe("The label key."),
    operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]).describe("In, NotIn, Exists or DoesNotExist."),
    values: z.array(z.string().max(63)).max(64).optional().describe("Values for In and NotIn."),
  }).describe("A requirement on one label.")).max(32).optional().describe("Requirements on the namespace's labels, all of them."),
}).describe("A label selector: every matchLabels entry and every matchExpressions requirement must hold.");

export const RuntimePodSchema = z.object({
  runtimeClassName: z.string().regex(NAME).max(253).optional()
    .describe("RuntimeClass of the runner pods, e.g. gvisor or kata; absent: the node's default runtime."),
  nodeSelector: z.record(z.string().regex(LABEL_KEY), z.string().max(63)).optional()
    .describe("Labels a node must have to run this runtime's pods."),
  tolerations: z.array(TolerationSchema).max(32).optional().describe("Taints the runner pods tolerate."),
  priorityClassName: z.string().regex(NAME).max(253).optional().describe("PriorityClass of the runner pods."),
  seccompProfile: ProfileSchema("seccomp").default({ type: "Unconfined" })
    .describe("Seccomp profile of the runner pod. The sandbox unshares namespaces, which RuntimeDefault forbids: Unconfined, or a Localhost profile allowing it; the sandbox applies its own narrower filter to the script."),
  appArmorProfile: ProfileSchema("AppArmor").default({ type: "Unconfined" })
    .describe("AppArmor profile of the runner pod; the default profile denies the mounts the sandbox makes. Ignored on nodes without AppArmor."),
  cpuRequest: quantity().default("100m")
    .describe("CPU a runner pod requests from the scheduler (at most the run's CPU limit, which it uses otherwise)."),
}).describe("How the runner pods are placed and confined.");

export const WarmPoolSchema = z.object({
  size: z.int().min(0).max(50).default(0).describe("Runner pods kept started ahead of runs, in each listed namespace; 0: none."),
  namespaces: z.array(z.string().regex(NAME).max(63)).max(64).optional().describe("Namespaces that get a pool."),
}).meta({ "x-kubernetes-validations": [{ rule: "self.size == 0 || (has(self.namespaces) && size(self.namespaces) > 0)", message: "a warm pool of size > 0 lists its namespaces" }] })
  .describe("Pods started before the runs that will use them (warm start).");

// CEL sees the spec after the apiserver applied the defaults, so both limits are always there.
const limitRules = [
  ...["timeoutSeconds", "pids", "outputBytes"].map((f) => ({ rule: `self.defaults.${f} <= self.maxima.${f}`, message: `defaults.${f} exceeds maxima.${f}` })),
  ...["cpu", "memory"].map((f) => ({ rule: `quantity(self.defaults.${f}).compareTo(quantity(self.maxima.${f})) <= 0`, message: `defaults.${f} exceeds maxima.${f}` })),
];

export const ScriptRuntimeSpecSchema = z.object({
  image: z.string().min(1).max(1024).describe("The runner image (images/runner): the harness and the Python a script runs on."),
  imagePullPolicy: z.enum(["Always", "IfNotPresent", "Never"]).default("IfNotPresent").describe("Pull policy of the runner image."),
  imagePullSecrets: z.array(z.object({ name: z.string().regex(NAME).max(253).describe("Name of a Secret in the run's namespace.") })
    .describe("A pull secret of the runner pods.")).max(16).optional()
    .describe("Secrets for pulling the image, looked up in each run's namespace."),
  defaults: limitSet(BUILTIN_DEFAULTS, "default when a run does not say").default(BUILTIN_DEFAULTS)
    .describe("The limits a run gets when it does not ask."),
  maxima: limitSet(BUILTIN_MAXIMA, "most a run may ask for").default(BUILTIN_MAXIMA)
    .describe("The most a run may ask for; a run asking more fails with invalid_input, naming the runtime and the limit."),
  imports: ImportPolicySchema.optional().describe("The import policy of runs that set none; absent: any module."),
  requireObjectResult: z.boolean().default(false).describe("In function mode, fail a run whose result is not a JSON object with invalid_result."),
  modules: z.array(z.string().regex(MODULE).max(255)).max(256).optional()
    .describe("Top-level modules this image adds (e.g. sklearn); a script that misses one on another runtime is told to use this one."),
  pod: RuntimePodSchema.default({ seccompProfile: { type: "Unconfined" }, appArmorProfile: { type: "Unconfined" }, cpuRequest: "100m" }),
  namespaceSelector: LabelSelectorSchema.optional()
    .describe("Namespaces whose runs may use this runtime, by their labels; absent: every namespace."),
  warmPool: WarmPoolSchema.optional(),
}).meta({ "x-kubernetes-validations": limitRules })
  .describe("What scripts run on: the image, the limits of a run, and how its pods are placed. Runs name it in spec.runtime.");

export const RuntimeConditionSchema = ConditionSchema.extend({
  type: z.string().max(316).describe("Kind of condition: Accepted (the spec is usable), Default (it is the one default), ImagePulled (its image started)."),
});

export const WarmPoolStatusSchema = z.object({
  namespace: z.string().describe("The namespace of the pool."),
  ready: z.int().min(0).describe("Pods started and waiting for a run."),
  desired: z.int().min(0).describe("Pods the pool should have (warmPool.size)."),
}).describe("One namespace's warm pool.");

export const ScriptRuntimeStatusSchema = z.object({
  observedGeneration: z.int().min(0).optional().describe("The generation of the runtime this status describes."),
  warm: z.string().optional().describe("Ready and desired warm pods over every namespace, e.g. 2/2; absent without a warm pool."),
  warmPools: z.array(WarmPoolStatusSchema).optional()
    .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["namespace"] })
    .describe("Each namespace's warm pool: ready and desired pods."),
  conditions: z.array(RuntimeConditionSchema).optional()
    .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] })
    .describe("Latest observations of the runtime (Accepted, Default, ImagePulled)."),
}).describe("What the controller observed of the runtime.");

export type ScriptRuntimeSpec = z.output<typeof ScriptRuntimeSpecSchema>;
export type ScriptRuntimeStatus = z.output<typeof ScriptRuntimeStatusSchema>;
export type LabelSelector = z.output<typeof LabelSelectorSchema>;
export type WarmPoolStatus = z.output<typeof WarmPoolStatusSchema>;
export type Toleration = z.output<typeof TolerationSchema>;

export interface ScriptRuntime {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: z.input<typeof ScriptRuntimeSpecSchema>;
  status?: ScriptRuntimeStatus;
}

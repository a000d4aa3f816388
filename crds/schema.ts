// The ScriptRun shape, once. The CRD's openAPIV3Schema (generate.ts), the API's request
// validation and its /openapi.json, and the controller's reading of objects all derive from
// these zod schemas; nothing else describes a ScriptRun.
import { z } from "zod";

export const GROUP = "scriptrun.dev";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = "ScriptRun";
export const PLURAL = "scriptruns";
export const SINGULAR = "scriptrun";
export const SHORT_NAMES = ["sr"];

/** What the CRD itself admits; the operator's configured cap (default 256 KiB) is lower. */
export const HARD_MAX_SCRIPT_BYTES = 1024 * 1024;
export const DEFAULT_MAX_SCRIPT_BYTES = 256 * 1024;
export const HARD_MAX_TIMEOUT_SECONDS = 3600;
// Bounds that keep the CRD's CEL immutability rule within the apiserver's cost budget.
const MAX_ARGS = 256;
const MAX_KWARGS = 256;
const MAX_IMPORT_NAMES = 256;

/** The stable error types of DESIGN.md, in the order the README documents them. */
export const ERROR_TYPES = [
  "invalid_input",
  "syntax_error",
  "missing_entrypoint",
  "runtime_error",
  "invalid_result",
  "timeout",
  "memory_limit",
  "output_limit",
  "resource_limit",
  "disallowed_import",
  "cancelled",
  "infrastructure_error",
] as const;
export type ErrorType = (typeof ERROR_TYPES)[number];

export const PHASES = ["Pending", "Queued", "Running", "Succeeded", "Failed"] as const;
export type Phase = (typeof PHASES)[number];
export const FINISHED_PHASES: readonly Phase[] = ["Succeeded", "Failed"];

const PYTHON_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Kubernetes' own quantity grammar (resource.Quantity), without a sign: limits are positive.
export const QUANTITY = /^(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;
/** A field holding a quantity, refused with words rather than the pattern. */
export const quantity = () => z.string().regex(QUANTITY, "must be a Kubernetes quantity, such as 500m or 2 for CPU and 256Mi or 1Gi for memory");
// metav1.Condition's reason pattern.
const CONDITION_REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

/** Any JSON value, null included; the CRD keeps it as is (x-kubernetes-preserve-unknown-fields). */
function jsonValue(description: string) {
  // nullable: without it the CEL immutability rule cannot evaluate a spec holding a null.
  return z.unknown().meta({ description, nullable: true, "x-kubernetes-preserve-unknown-fields": true });
}

/**
 * A JSON object of any keys, kept as it came. zod's record builds its output key by key, and a key
 * named `__proto__` set that way is lost (it sets the new object's prototype): a keyword argument
 * of that name would vanish with the run reported a success.
 */
export function jsonObject(meta: Record<string, unknown> = {}) {
  const isObject = (value: unknown): value is Record<string, unknown> =>
    typeof value === "object" && value !== null && !Array.isArray(value);
  // z.unknown() passes the value itself on; its JSON Schema comes from the meta alone.
  const kept = z.unknown().refine(isObject, {
    error: (issue) => `Invalid input: expected a JSON object, received ${Array.isArray(issue.input) ? "array" : issue.input === null ? "null" : typeof issue.input}`,
  })
    .meta({ type: "object", additionalProperties: {}, ...meta });
  return kept as unknown as z.ZodType<Record<string, unknown>>;
}

const moduleNames = (description: string) =>
  z.array(z.string().regex(PYTHON_IDENTIFIER).max(255).describe("A top-level module name, e.g. numpy."))
    .max(MAX_IMPORT_NAMES).optional().describe(description);

export const ResourcesSchema = z.object({
  cpu: quantity().optional()
    .describe("CPU for the run as a Kubernetes quantity (e.g. 500m); the runtime's default when absent, refused above its maximum."),
  memory: quantity().optional()
    .describe("Memory for the script as a Kubernetes quantity (e.g. 256Mi); the runtime's default when absent, refused above its maximum."),
}).describe("CPU and memory of the run's sandbox.");

export const LimitsSchema = z.object({
  pids: z.int().min(1).max(65536).optional()
    .describe("Most processes and threads the script may have at once; the runtime's default when absent, refused above its maximum."),
  outputBytes: z.int().min(1).max(1024 * 1024 * 1024).optional()
    .describe("Most bytes the script may write to stdout, and as many to stderr; past it the run fails with output_limit. The runtime's default when absent, refused above its maximum."),
}).describe("Limits on what the script may consume besides CPU and memory.");

export const ImportPolicySchema = z.object({
  allow: moduleNames("Only these top-level modules may be imported (absent: any module not denied)."),
  deny: moduleNames("These top-level modules may not be imported; a script that imports one fails with disallowed_import."),
}).describe("Import policy checked before the run; absent means the runtime's policy.");

export const ScriptRunSpecSchema = z.object({
  script: z.string().min(1).max(HARD_MAX_SCRIPT_BYTES)
    .describe("Python 3 source to run. The operator caps its size (default 256 KiB)."),
  mode: z.enum(["function", "script"]).default("function")
    .describe("function: import the script and call the entrypoint, whose return value is the result. script: run it as __main__; the result is null."),
  entrypoint: z.string().regex(PYTHON_IDENTIFIER).max(255).default("main")
    .describe("Name of the function to call in function mode."),
  args: z.array(jsonValue("A positional argument (any JSON value).")).max(MAX_ARGS).optional()
    .describe("Positional arguments for the entrypoint, as a JSON array. A number a double would change is refused (JSON readers in JavaScript read numbers as doubles): an integer one does not hold exactly, as most beyond ±(2^53 - 1), or one beyond ±1.8e308; send it as a string."),
  kwargs: jsonObject({ "x-kubernetes-preserve-unknown-fields": true, maxProperties: MAX_KWARGS }).optional()
    .describe("Keyword arguments for the entrypoint, as a JSON object. A number a double would change is refused (JSON readers in JavaScript read numbers as doubles): an integer one does not hold exactly, as most beyond ±(2^53 - 1), or one beyond ±1.8e308; send it as a string."),
  stdin: z.string().max(HARD_MAX_SCRIPT_BYTES).optional()
    .describe("Text given to the script on standard input."),
  timeoutSeconds: z.int().min(1).max(HARD_MAX_TIMEOUT_SECONDS).optional()
    .describe("Wall-clock limit of the run in seconds; the runtime's default (10 for the built-in runtime) when absent, refused above its maximum."),
  resources: ResourcesSchema.optional(),
  limits: LimitsSchema.optional(),
  imports: ImportPolicySchema.optional(),
  runtime: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/).max(253).optional()
    .describe("The ScriptRuntime to run on (kubectl get srt); absent: the one annotated scriptrun.dev/is-default-runtime."),
  ttlSecondsAfterFinished: z.int().min(0).optional()
    .describe("Seconds after the run finished when the ScriptRun (and what it owns) is deleted; kept when absent."),
}).meta({ "x-kubernetes-validations": [{ rule: "self == oldSelf", message: "spec is immutable; create a new ScriptRun" }] })
  .describe("What to run and within which limits. Immutable: a new run is a new ScriptRun.");

export const RunErrorSchema = z.object({
  type: z.enum(ERROR_TYPES).describe(`Stable error type: ${ERROR_TYPES.join(", ")}.`),
  message: z.string().describe("What went wrong, for a person."),
  line: z.int().optional().describe("Line of the script the error points at, when known."),
  traceback: z.string().optional().describe("Python traceback of a runtime error, when there is one."),
  suggestions: z.array(z.string()).optional().describe("Hints on how to fix the error."),
  availableFunctions: z.array(z.string()).optional()
    .describe("Functions the script defines (when the entrypoint is missing)."),
}).describe("Why the run failed; absent when it succeeded.");

export const ConditionSchema = z.object({
  type: z.string().max(316).describe("Kind of condition: Accepted, PodCreated or Finished."),
  status: z.enum(["True", "False", "Unknown"]).describe("Whether the condition holds."),
  reason: z.string().regex(CONDITION_REASON).max(1024).describe("Why, in one CamelCase word."),
  message: z.string().max(32768).optional().describe("Details for a person."),
  lastTransitionTime: z.iso.datetime().describe("When the status last changed."),
  observedGeneration: z.int().min(0).optional().describe("The generation of the ScriptRun this was set from."),
}).describe("One observation about the run, as the Kubernetes API conventions describe.");

export const SandboxSchema = z.object({
  backend: z.enum(["nsjail", "bubblewrap"]).describe("The sandbox the script ran in."),
  memory: z.enum(["cgroup", "rlimit"]).describe("How the memory limit was enforced."),
}).describe("The sandbox the harness used.");

export const RunRuntimeSchema = z.object({
  name: z.string().describe("The ScriptRuntime the run ran on."),
  image: z.string().describe("The runner image it ran in, as the runtime named it when the run started."),
}).describe("What the run ran on; later changes to the runtime do not change a started run.");

/** Once Succeeded or Failed, a run's status stays as it ended: a status written from a view older
 * than its end (a cache a relist set back, a second controller) is refused by the apiserver, not
 * stored. Nothing writes a finished run's status again (the same status written again passes). */
export const FINAL_STATUS_MESSAGE = "a finished run's status is final";
const FINAL_STATUS_RULE = "!has(oldSelf.phase) || !(oldSelf.phase in ['Succeeded', 'Failed']) || self == oldSelf";

export const ScriptRunStatusSchema = z.object({
  phase: z.enum(PHASES).optional().describe("Pending, Queued (waiting for capacity), Running, Succeeded or Failed."),
  conditions: z.array(ConditionSchema).optional()
    .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] })
    .describe("Latest observations of the run (Accepted, PodCreated, Finished)."),
  observedGeneration: z.int().min(0).optional().describe("The generation of the ScriptRun this status describes."),
  summary: z.string().max(256).optional().describe("Short result, or error type and message, for kubectl get."),
  result: jsonValue("Return value of the entrypoint (any JSON value); absent means null.").optional(),
  stdout: z.string().optional().describe("What the script wrote to standard output."),
  stderr: z.string().optional().describe("What the script wrote to standard error."),
  stdoutTruncated: z.boolean().optional().describe("True when stdout was cut."),
  stderrTruncated: z.boolean().optional().describe("True when stderr was cut."),
  error: RunErrorSchema.optional(),
  exitCode: z.int().optional().describe("Exit code of the script (sys.exit), or of the runner container."),
  startedAt: z.iso.datetime().optional().describe("When the runner container started."),
  finishedAt: z.iso.datetime().optional().describe("When the run finished."),
  durationMs: z.int().min(0).optional().describe("How long the script ran, in milliseconds."),
  podName: z.string().optional().describe("Name of the runner pod."),
  start: z.enum(["warm", "cold"]).optional()
    .describe("warm: the run claimed a pod of its runtime's warm pool, started before it; cold: its pod was created for it."),
  runtime: RunRuntimeSchema.optional(),
  sandbox: SandboxSchema.optional(),
  queuePosition: z.int().min(1).optional()
    .describe("Place in the queue while Queued (1 runs next)."),
}).meta({ "x-kubernetes-validations": [{ rule: FINAL_STATUS_RULE, message: FINAL_STATUS_MESSAGE }] })
  .describe("What the controller observed of the run.");

export type ScriptRunSpec = z.output<typeof ScriptRunSpecSchema>;
export type ScriptRunSpecInput = z.input<typeof ScriptRunSpecSchema>;
export type ScriptRunStatus = z.output<typeof ScriptRunStatusSchema>;
export type RunError = z.output<typeof RunErrorSchema>;
export type Condition = z.output<typeof ConditionSchema>;
export type Sandbox = z.output<typeof SandboxSchema>;
export type RunRuntime = z.output<typeof RunRuntimeSchema>;

/** Metadata as the apiserver returns it; timestamps arrive as strings (watch) or Dates (list). */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: Date | string;
  deletionTimestamp?: Date | string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface ScriptRun {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: ScriptRunSpecInput;
  status?: ScriptRunStatus;
}

export function isFinished(phase: Phase | undefined): boolean {
  return phase !== undefined && FINISHED_PHASES.includes(phase);
}

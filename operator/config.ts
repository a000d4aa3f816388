// The controller's configuration: environment variables (SCRIPTRUN_*), each also a flag
// (--runner-image=x sets SCRIPTRUN_RUNNER_IMAGE; flags win). Validated once at start;
// operator/README.md documents every variable.
import { hostname } from "node:os";
import { z } from "zod";
import { DEFAULT_MAX_SCRIPT_BYTES, HARD_MAX_SCRIPT_BYTES, HARD_MAX_TIMEOUT_SECONDS } from "../crds/schema.js";
import { defaultRunnerPath } from "./preflight.js";
import { isQuantity, parseQuantity } from "./quantity.js";

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const bool = z.enum(["true", "false", "1", "0", "yes", "no"]).transform((v) => ["true", "1", "yes"].includes(v));
const quantity = z.string().refine(isQuantity, "must be a Kubernetes quantity such as 500m or 256Mi");
const list = z.string().transform((v) => v.split(",").map((s) => s.trim()).filter((s) => s !== ""));
const moduleList = list.pipe(z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a top-level module name")));
/** A seccomp or AppArmor profile of the runner pod, as `Unconfined`, `RuntimeDefault` or `Localhost/PROFILE`. */
export interface SecurityProfile { type: "Unconfined" | "RuntimeDefault" | "Localhost"; localhostProfile?: string }
const profile = z.string().regex(/^(Unconfined|RuntimeDefault|Localhost\/\S+)$/, "must be Unconfined, RuntimeDefault or Localhost/PROFILE")
  .transform((v): SecurityProfile => (v.startsWith("Localhost/")
    ? { type: "Localhost", localhostProfile: v.slice("Localhost/".length) }
    : { type: v as "Unconfined" | "RuntimeDefault" }));

/** Every variable: its schema and default (a string, as it would arrive from the environment). */
const VARIABLES = {
  SCRIPTRUN_RUNNER_IMAGE: [z.string().min(1), "localhost/scriptrun/runner:test"],
  SCRIPTRUN_IMAGE_PULL_POLICY: [z.enum(["Always", "IfNotPresent", "Never"]), "IfNotPresent"],
  SCRIPTRUN_RUNNER_PATH: [z.string(), ""],
  SCRIPTRUN_PYTHON: [z.string().min(1), "python3"],
  SCRIPTRUN_PREFLIGHT_TIMEOUT_MS: [int(100), "10000"],
  SCRIPTRUN_PREFLIGHT_WORKERS: [int(1), "2"],
  SCRIPTRUN_DEFAULT_TIMEOUT_SECONDS: [int(1, HARD_MAX_TIMEOUT_SECONDS), "10"],
  SCRIPTRUN_MAX_TIMEOUT_SECONDS: [int(1, HARD_MAX_TIMEOUT_SECONDS), "300"],
  SCRIPTRUN_DEFAULT_CPU: [quantity, "500m"],
  SCRIPTRUN_MAX_CPU: [quantity, "2"],
  SCRIPTRUN_RUNNER_CPU_REQUEST: [z.union([z.literal(""), quantity]), "100m"],
  SCRIPTRUN_DEFAULT_MEMORY: [quantity, "256Mi"],
  SCRIPTRUN_MAX_MEMORY: [quantity, "2Gi"],
  SCRIPTRUN_MEMORY_HEADROOM: [quantity, "64Mi"],
  SCRIPTRUN_DEFAULT_PIDS: [int(1), "64"],
  SCRIPTRUN_MAX_PIDS: [int(1), "1024"],
  SCRIPTRUN_DEFAULT_OUTPUT_BYTES: [int(1), String(1024 * 1024)],
  SCRIPTRUN_MAX_OUTPUT_BYTES: [int(1), String(4 * 1024 * 1024)],
  SCRIPTRUN_MAX_SCRIPT_BYTES: [int(1, HARD_MAX_SCRIPT_BYTES), String(DEFAULT_MAX_SCRIPT_BYTES)],
  SCRIPTRUN_MAX_CONCURRENT_RUNS: [int(1), "50"],
  SCRIPTRUN_MAX_CONCURRENT_RUNS_PER_NAMESPACE: [int(1), "20"],
  SCRIPTRUN_WATCH_NAMESPACES: [list, ""],
  SCRIPTRUN_KEEP_PODS: [bool, "false"],
  SCRIPTRUN_POD_START_TIMEOUT_SECONDS: [int(1), "120"],
  SCRIPTRUN_DEADLINE_GRACE_SECONDS: [int(1), "30"],
  SCRIPTRUN_POD_GONE_GRACE_SECONDS: [int(0), "5"],
  SCRIPTRUN_LEADER_ELECTION: [bool, "true"],
  SCRIPTRUN_LEASE_NAME: [z.string().min(1), "scriptrun-controller"],
  SCRIPTRUN_LEASE_NAMESPACE: [z.string(), ""],
  SCRIPTRUN_LEADER_IDENTITY: [z.string(), ""],
  SCRIPTRUN_LEASE_DURATION_SECONDS: [int(3), "15"],
  SCRIPTRUN_RENEW_PERIOD_SECONDS: [int(1), "2"],
  SCRIPTRUN_METRICS_PORT: [int(0, 65535), "9090"],
  SCRIPTRUN_IMPORT_ALLOW: [moduleList, ""],
  SCRIPTRUN_IMPORT_DENY: [moduleList, ""],
  SCRIPTRUN_REQUIRE_OBJECT_RESULT: [bool, "false"],
  SCRIPTRUN_SANDBOX_BACKEND: [z.enum(["auto", "nsjail", "bubblewrap"]), "auto"],
  SCRIPTRUN_RUNNER_SECCOMP_PROFILE: [profile, "Unconfined"],
  SCRIPTRUN_RUNNER_APPARMOR_PROFILE: [profile, "Unconfined"],
  SCRIPTRUN_LOG_LEVEL: [z.enum(["fatal", "error", "warn", "info", "debug", "trace"]), "info"],
  SCRIPTRUN_WORKERS: [int(1, 256), "8"],
  SCRIPTRUN_RESYNC_SECONDS: [int(1), "60"],
  SCRIPTRUN_RELIST_SECONDS: [int(10), "300"],
  SCRIPTRUN_MAX_LOG_BYTES: [int(4096), String(8 * 1024 * 1024)],
  SCRIPTRUN_MAX_OBJECT_BYTES: [int(64 * 1024), String(1280 * 1024)],
} as const satisfies Record<string, readonly [z.ZodType, string]>;

export const CONFIG_VARIABLES = Object.keys(VARIABLES) as Array<keyof typeof VARIABLES>;

const EnvSchema = z.object(Object.fromEntries(
  Object.entries(VARIABLES).map(([name, [schema, fallback]]) => [name, z.string().default(fallback).pipe(schema as z.ZodType<unknown, string>)]),
) as { [K in keyof typeof VARIABLES]: z.ZodPipe<z.ZodDefault<z.ZodString>, (typeof VARIABLES)[K][0]> });

type Env = z.output<typeof EnvSchema>;

export interface Bounds<T> { default: T; max: T }

export interface Config {
  runnerImage: string;
  imagePullPolicy: "Always" | "IfNotPresent" | "Never";
  runnerPath: string;
  python: string;
  preflightTimeoutMs: number;
  preflightWorkers: number;
  timeoutSeconds: Bounds<number>;
  cpu: Bounds<string>;
  memory: Bounds<string>;
  memoryHeadroom: string;
  pids: Bounds<number>;
  outputBytes: Bounds<number>;
  maxScriptBytes: number;
  maxConcurrentRuns: number;
  maxConcurrentRunsPerNamespace: number;
  /** Empty: all namespaces. */
  watchNamespaces: string[];
  keepPods: boolean;
  podStartTimeoutSeconds: number;
  deadlineGraceSeconds: number;
  podGoneGraceSeconds: number;
  leaderElection: {
    enabled: boolean; leaseName: string; leaseNamespace: string; identity: string;
    leaseDurationSeconds: number; renewPeriodSeconds: number;
  };
  metricsPort: number;
  importPolicy: { allow?: string[]; deny?: string[] };
  requireObjectResult: boolean;
  sandboxBackend: "auto" | "nsjail" | "bubblewrap";
  /** CPU the runner pod requests (at most its limit); "": the limit itself. */
  runnerCpuRequest: string;
  runnerSeccompProfile: SecurityProfile;
  runnerAppArmorProfile: SecurityProfile;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace";
  workers: number;
  resyncSeconds: number;
  relistSeconds: number;
  maxLogBytes: number;
  maxObjectBytes: number;
}

export class ConfigError extends Error {}

/** Turns `--runner-image=x` / `--runner-image x` into SCRIPTRUN_RUNNER_IMAGE=x. */
export function flagsToEnv(argv: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const match = /^--([a-z0-9-]+)(?:=(.*))?$/s.exec(arg);
    if (!match) throw new ConfigError(`Unexpected argument '${arg}'; flags look like --runner-image=IMAGE`);
    const name = `SCRIPTRUN_${match[1]!.toUpperCase().replaceAll("-", "_")}`;
    if (!(name in VARIABLES)) throw new ConfigError(`Unknown flag --${match[1]} (no ${name})`);
    const value = match[2] ?? argv[++i];
    if (value === undefined) throw new ConfigError(`Flag --${match[1]} needs a value`);
    env[name] = value;
  }
  return env;
}

function crossChecks(env: Env): string[] {
  const problems: string[] = [];
  const pairs: Array<[string, number, number]> = [
    ["TIMEOUT_SECONDS", env.SCRIPTRUN_DEFAULT_TIMEOUT_SECONDS, env.SCRIPTRUN_MAX_TIMEOUT_SECONDS],
    ["CPU", parseQuantity(env.SCRIPTRUN_DEFAULT_CPU), parseQuantity(env.SCRIPTRUN_MAX_CPU)],
    ["MEMORY", parseQuantity(env.SCRIPTRUN_DEFAULT_MEMORY), parseQuantity(env.SCRIPTRUN_MAX_MEMORY)],
    ["PIDS", env.SCRIPTRUN_DEFAULT_PIDS, env.SCRIPTRUN_MAX_PIDS],
    ["OUTPUT_BYTES", env.SCRIPTRUN_DEFAULT_OUTPUT_BYTES, env.SCRIPTRUN_MAX_OUTPUT_BYTES],
  ];
  for (const [name, dflt, max] of pairs) {
    if (dflt > max) problems.push(`SCRIPTRUN_DEFAULT_${name} exceeds SCRIPTRUN_MAX_${name}`);
  }
  if (env.SCRIPTRUN_RENEW_PERIOD_SECONDS * 2 > env.SCRIPTRUN_LEASE_DURATION_SECONDS) {
    problems.push("SCRIPTRUN_RENEW_PERIOD_SECONDS must be at most half of SCRIPTRUN_LEASE_DURATION_SECONDS");
  }
  return problems;
}

/** Reads and validates the configuration; throws a ConfigError naming every bad variable. */
export function loadConfig(environment: NodeJS.ProcessEnv = process.env, argv: readonly string[] = []): Config {
  const raw: Record<string, string | undefined> = {};
  for (const name of CONFIG_VARIABLES) raw[name] = environment[name];
  Object.assign(raw, flagsToEnv(argv));
  const parsed = EnvSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`Invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  const env = parsed.data;
  const problems = crossChecks(env);
  if (problems.length > 0) throw new ConfigError(`Invalid configuration: ${problems.join("; ")}`);
  return {
    runnerImage: env.SCRIPTRUN_RUNNER_IMAGE,
    imagePullPolicy: env.SCRIPTRUN_IMAGE_PULL_POLICY,
    runnerPath: env.SCRIPTRUN_RUNNER_PATH || defaultRunnerPath(),
    python: env.SCRIPTRUN_PYTHON,
    preflightTimeoutMs: env.SCRIPTRUN_PREFLIGHT_TIMEOUT_MS,
    preflightWorkers: env.SCRIPTRUN_PREFLIGHT_WORKERS,
    timeoutSeconds: { default: env.SCRIPTRUN_DEFAULT_TIMEOUT_SECONDS, max: env.SCRIPTRUN_MAX_TIMEOUT_SECONDS },
    cpu: { default: env.SCRIPTRUN_DEFAULT_CPU, max: env.SCRIPTRUN_MAX_CPU },
    memory: { default: env.SCRIPTRUN_DEFAULT_MEMORY, max: env.SCRIPTRUN_MAX_MEMORY },
    memoryHeadroom: env.SCRIPTRUN_MEMORY_HEADROOM,
    pids: { default: env.SCRIPTRUN_DEFAULT_PIDS, max: env.SCRIPTRUN_MAX_PIDS },
    outputBytes: { default: env.SCRIPTRUN_DEFAULT_OUTPUT_BYTES, max: env.SCRIPTRUN_MAX_OUTPUT_BYTES },
    maxScriptBytes: env.SCRIPTRUN_MAX_SCRIPT_BYTES,
    maxConcurrentRuns: env.SCRIPTRUN_MAX_CONCURRENT_RUNS,
    maxConcurrentRunsPerNamespace: env.SCRIPTRUN_MAX_CONCURRENT_RUNS_PER_NAMESPACE,
    watchNamespaces: env.SCRIPTRUN_WATCH_NAMESPACES,
    keepPods: env.SCRIPTRUN_KEEP_PODS,
    podStartTimeoutSeconds: env.SCRIPTRUN_POD_START_TIMEOUT_SECONDS,
    deadlineGraceSeconds: env.SCRIPTRUN_DEADLINE_GRACE_SECONDS,
    podGoneGraceSeconds: env.SCRIPTRUN_POD_GONE_GRACE_SECONDS,
    leaderElection: {
      enabled: env.SCRIPTRUN_LEADER_ELECTION,
      leaseName: env.SCRIPTRUN_LEASE_NAME,
      // In a pod the chart sets POD_NAMESPACE from the downward API.
      leaseNamespace: env.SCRIPTRUN_LEASE_NAMESPACE || environment.POD_NAMESPACE || "default",
      identity: env.SCRIPTRUN_LEADER_IDENTITY || `${hostname()}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`,
      leaseDurationSeconds: env.SCRIPTRUN_LEASE_DURATION_SECONDS,
      renewPeriodSeconds: env.SCRIPTRUN_RENEW_PERIOD_SECONDS,
    },
    metricsPort: env.SCRIPTRUN_METRICS_PORT,
    importPolicy: {
      ...(env.SCRIPTRUN_IMPORT_ALLOW.length > 0 ? { allow: env.SCRIPTRUN_IMPORT_ALLOW } : {}),
      ...(env.SCRIPTRUN_IMPORT_DENY.length > 0 ? { deny: env.SCRIPTRUN_IMPORT_DENY } : {}),
    },
    requireObjectResult: env.SCRIPTRUN_REQUIRE_OBJECT_RESULT,
    sandboxBackend: env.SCRIPTRUN_SANDBOX_BACKEND,
    runnerCpuRequest: env.SCRIPTRUN_RUNNER_CPU_REQUEST,
    runnerSeccompProfile: env.SCRIPTRUN_RUNNER_SECCOMP_PROFILE,
    runnerAppArmorProfile: env.SCRIPTRUN_RUNNER_APPARMOR_PROFILE,
    logLevel: env.SCRIPTRUN_LOG_LEVEL,
    workers: env.SCRIPTRUN_WORKERS,
    resyncSeconds: env.SCRIPTRUN_RESYNC_SECONDS,
    relistSeconds: env.SCRIPTRUN_RELIST_SECONDS,
    maxLogBytes: env.SCRIPTRUN_MAX_LOG_BYTES,
    maxObjectBytes: env.SCRIPTRUN_MAX_OBJECT_BYTES,
  };
}

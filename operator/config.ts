// The controller's configuration: environment variables (SCRIPTRUN_*), each also a flag
// (--runner-image=x sets SCRIPTRUN_RUNNER_IMAGE; flags win). The run settings it shares with the
// API (core/runSettings.ts) and its own; validated once at start; operator/README.md documents
// every variable.
import { hostname } from "node:os";
import { z } from "zod";
import { ConfigError, type EnvTable, bool, int, list, parseEnvTable, quantity } from "../core/envTable.js";
import type { LogLevel } from "../core/log.js";
import type { PreflightSettings } from "../core/preflight.js";
import type { RequestLimits } from "../core/request.js";
import { RUN_VARIABLES, runSettingProblems, runSettings } from "../core/runSettings.js";

export { ConfigError };

/** A seccomp or AppArmor profile of the runner pod, as `Unconfined`, `RuntimeDefault` or `Localhost/PROFILE`. */
export interface SecurityProfile { type: "Unconfined" | "RuntimeDefault" | "Localhost"; localhostProfile?: string }
const profile = z.string().regex(/^(Unconfined|RuntimeDefault|Localhost\/\S+)$/, "must be Unconfined, RuntimeDefault or Localhost/PROFILE")
  .transform((v): SecurityProfile => (v.startsWith("Localhost/")
    ? { type: "Localhost", localhostProfile: v.slice("Localhost/".length) }
    : { type: v as "Unconfined" | "RuntimeDefault" }));

/** The controller's own variables: its schema and default (a string, as it would arrive from the environment). */
const CONTROLLER_VARIABLES = {
  SCRIPTRUN_RUNNER_IMAGE: [z.string().min(1), "localhost/scriptrun/runner:test"],
  SCRIPTRUN_IMAGE_PULL_POLICY: [z.enum(["Always", "IfNotPresent", "Never"]), "IfNotPresent"],
  SCRIPTRUN_RUNNER_CPU_REQUEST: [z.union([z.literal(""), quantity]), "100m"],
  SCRIPTRUN_MEMORY_HEADROOM: [quantity, "64Mi"],
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
  SCRIPTRUN_REQUIRE_OBJECT_RESULT: [bool, "false"],
  SCRIPTRUN_SANDBOX_BACKEND: [z.enum(["auto", "nsjail", "bubblewrap"]), "auto"],
  SCRIPTRUN_RUNNER_SECCOMP_PROFILE: [profile, "Unconfined"],
  SCRIPTRUN_RUNNER_APPARMOR_PROFILE: [profile, "Unconfined"],
  SCRIPTRUN_WORKERS: [int(1, 256), "8"],
  SCRIPTRUN_RESYNC_SECONDS: [int(1), "60"],
  SCRIPTRUN_RELIST_SECONDS: [int(10), "300"],
  SCRIPTRUN_MAX_LOG_BYTES: [int(4096), String(8 * 1024 * 1024)],
  SCRIPTRUN_MAX_OBJECT_BYTES: [int(64 * 1024), String(1280 * 1024)],
} as const satisfies EnvTable;

/** Every variable the controller reads: the shared run settings and its own. */
export const CONFIG_VARIABLES = [...Object.keys(RUN_VARIABLES), ...Object.keys(CONTROLLER_VARIABLES)];

export interface Config extends RequestLimits {
  runnerImage: string;
  imagePullPolicy: "Always" | "IfNotPresent" | "Never";
  preflight: PreflightSettings;
  memoryHeadroom: string;
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
  requireObjectResult: boolean;
  sandboxBackend: "auto" | "nsjail" | "bubblewrap";
  /** CPU the runner pod requests (at most its limit); "": the limit itself. */
  runnerCpuRequest: string;
  runnerSeccompProfile: SecurityProfile;
  runnerAppArmorProfile: SecurityProfile;
  logLevel: LogLevel;
  workers: number;
  resyncSeconds: number;
  relistSeconds: number;
  maxLogBytes: number;
  maxObjectBytes: number;
}

/** Turns `--runner-image=x` / `--runner-image x` into SCRIPTRUN_RUNNER_IMAGE=x. */
export function flagsToEnv(argv: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const match = /^--([a-z0-9-]+)(?:=(.*))?$/s.exec(arg);
    if (!match) throw new ConfigError(`Unexpected argument '${arg}'; flags look like --runner-image=IMAGE`);
    const name = `SCRIPTRUN_${match[1]!.toUpperCase().replaceAll("-", "_")}`;
    if (!CONFIG_VARIABLES.includes(name)) throw new ConfigError(`Unknown flag --${match[1]} (no ${name})`);
    const value = match[2] ?? argv[++i];
    if (value === undefined) throw new ConfigError(`Flag --${match[1]} needs a value`);
    env[name] = value;
  }
  return env;
}

/** Reads and validates the configuration; throws a ConfigError naming every bad variable. */
export function loadConfig(environment: NodeJS.ProcessEnv = process.env, argv: readonly string[] = []): Config {
  const env = parseEnvTable({ ...RUN_VARIABLES, ...CONTROLLER_VARIABLES }, { ...environment, ...flagsToEnv(argv) });
  const problems = runSettingProblems(env);
  if (env.SCRIPTRUN_RENEW_PERIOD_SECONDS * 2 > env.SCRIPTRUN_LEASE_DURATION_SECONDS) {
    problems.push("SCRIPTRUN_RENEW_PERIOD_SECONDS must be at most half of SCRIPTRUN_LEASE_DURATION_SECONDS");
  }
  if (problems.length > 0) throw new ConfigError(`Invalid configuration: ${problems.join("; ")}`);
  const run = runSettings(env);
  return {
    ...run.limits,
    preflight: run.preflight,
    logLevel: run.logLevel,
    runnerImage: env.SCRIPTRUN_RUNNER_IMAGE,
    imagePullPolicy: env.SCRIPTRUN_IMAGE_PULL_POLICY,
    memoryHeadroom: env.SCRIPTRUN_MEMORY_HEADROOM,
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
    requireObjectResult: env.SCRIPTRUN_REQUIRE_OBJECT_RESULT,
    sandboxBackend: env.SCRIPTRUN_SANDBOX_BACKEND,
    runnerCpuRequest: env.SCRIPTRUN_RUNNER_CPU_REQUEST,
    runnerSeccompProfile: env.SCRIPTRUN_RUNNER_SECCOMP_PROFILE,
    runnerAppArmorProfile: env.SCRIPTRUN_RUNNER_APPARMOR_PROFILE,
    workers: env.SCRIPTRUN_WORKERS,
    resyncSeconds: env.SCRIPTRUN_RESYNC_SECONDS,
    relistSeconds: env.SCRIPTRUN_RELIST_SECONDS,
    maxLogBytes: env.SCRIPTRUN_MAX_LOG_BYTES,
    maxObjectBytes: env.SCRIPTRUN_MAX_OBJECT_BYTES,
  };
}

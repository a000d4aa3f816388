// The controller's configuration: environment variables (SCRIPTRUN_*), each also a flag
// (--workers=4 sets SCRIPTRUN_WORKERS; flags win). Operator-wide settings only: the run settings it
// shares with the API (core/runSettings.ts) and its own; what a run gets (image, limits, imports,
// placement) belongs to its ScriptRuntime. Validated once at start; operator/README.md documents
// every variable.
import { hostname } from "node:os";
import { z } from "zod";
import { ConfigError, type EnvTable, bool, int, list, parseEnvTable, quantity } from "../core/envTable.js";
import { ENVELOPE_BYTES } from "../core/liveOutput.js";
import type { LogLevel } from "../core/log.js";
import type { PreflightSettings } from "../core/preflight.js";
import { RUN_VARIABLES, runSettings } from "../core/runSettings.js";

export { ConfigError };

/** The controller's own variables: its schema and default (a string, as it would arrive from the environment). */
const CONTROLLER_VARIABLES = {
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
  SCRIPTRUN_SANDBOX_BACKEND: [z.enum(["auto", "nsjail", "bubblewrap"]), "auto"],
  SCRIPTRUN_WORKERS: [int(1, 256), "8"],
  SCRIPTRUN_RESYNC_SECONDS: [int(1), "60"],
  SCRIPTRUN_RELIST_SECONDS: [int(10), "300"],
  SCRIPTRUN_MAX_LOG_BYTES: [int(ENVELOPE_BYTES), String(8 * 1024 * 1024)],
  SCRIPTRUN_MAX_OBJECT_BYTES: [int(64 * 1024), String(1280 * 1024)],
} as const satisfies EnvTable;

/** Variables of earlier versions whose settings are now a ScriptRuntime's: set, they would be
 * silently ignored, so the controller refuses to start and says where each went. */
const MOVED_TO_RUNTIME: Record<string, string> = {
  SCRIPTRUN_RUNNER_IMAGE: "spec.image",
  SCRIPTRUN_IMAGE_PULL_POLICY: "spec.imagePullPolicy",
  SCRIPTRUN_RUNNER_CPU_REQUEST: "spec.pod.cpuRequest",
  SCRIPTRUN_REQUIRE_OBJECT_RESULT: "spec.requireObjectResult",
  SCRIPTRUN_RUNNER_SECCOMP_PROFILE: "spec.pod.seccompProfile",
  SCRIPTRUN_RUNNER_APPARMOR_PROFILE: "spec.pod.appArmorProfile",
  SCRIPTRUN_IMPORT_ALLOW: "spec.imports.allow",
  SCRIPTRUN_IMPORT_DENY: "spec.imports.deny",
  ...Object.fromEntries(["TIMEOUT_SECONDS", "CPU", "MEMORY", "PIDS", "OUTPUT_BYTES"].flatMap((limit) => {
    const field = limit.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    return [[`SCRIPTRUN_DEFAULT_${limit}`, `spec.defaults.${field}`], [`SCRIPTRUN_MAX_${limit}`, `spec.maxima.${field}`]];
  })),
};

/** Every variable the controller reads: the shared run settings and its own. */
export const CONFIG_VARIABLES = [...Object.keys(RUN_VARIABLES), ...Object.keys(CONTROLLER_VARIABLES)];

export interface Config {
  /** The most UTF-8 bytes a script may have, whatever its runtime. */
  maxScriptBytes: number;
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
  sandboxBackend: "auto" | "nsjail" | "bubblewrap";
  logLevel: LogLevel;
  workers: number;
  resyncSeconds: number;
  relistSeconds: number;
  maxLogBytes: number;
  maxObjectBytes: number;
}

/** Turns `--workers=4` / `--workers 4` into SCRIPTRUN_WORKERS=4. */
export function flagsToEnv(argv: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const match = /^--([a-z0-9-]+)(?:=(.*))?$/s.exec(arg);
    if (!match) throw new ConfigError(`Unexpected argument '${arg}'; flags look like --workers=4`);
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
  const moved = Object.keys(MOVED_TO_RUNTIME).filter((name) => environment[name] !== undefined);
  if (moved.length > 0) {
    throw new ConfigError(`Invalid configuration: ${moved.map((name) => `${name} is now ${MOVED_TO_RUNTIME[name]} of a ScriptRuntime`).join("; ")}` +
      " (kubectl explain scriptruntime.spec); unset it");
  }
  const env = parseEnvTable({ ...RUN_VARIABLES, ...CONTROLLER_VARIABLES }, { ...environment, ...flagsToEnv(argv) });
  if (env.SCRIPTRUN_RENEW_PERIOD_SECONDS * 2 > env.SCRIPTRUN_LEASE_DURATION_SECONDS) {
    throw new ConfigError("Invalid configuration: SCRIPTRUN_RENEW_PERIOD_SECONDS must be at most half of SCRIPTRUN_LEASE_DURATION_SECONDS");
  }
  const run = runSettings(env);
  return {
    maxScriptBytes: run.maxScriptBytes,
    preflight: run.preflight,
    logLevel: run.logLevel,
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
    sandboxBackend: env.SCRIPTRUN_SANDBOX_BACKEND,
    workers: env.SCRIPTRUN_WORKERS,
    resyncSeconds: env.SCRIPTRUN_RESYNC_SECONDS,
    relistSeconds: env.SCRIPTRUN_RELIST_SECONDS,
    maxLogBytes: env.SCRIPTRUN_MAX_LOG_BYTES,
    maxObjectBytes: env.SCRIPTRUN_MAX_OBJECT_BYTES,
  };
}

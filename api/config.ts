// The API's configuration: SCRIPTRUN_API_* environment variables for the HTTP service, plus the
// run settings it shares with the controller (core/runSettings.ts: the script-size cap, the
// preflight checker), so that the API refuses exactly what the controller would; what a run may
// ask for otherwise is its runtime's (core/runtimeCatalog.ts). Validated once
// at start; api/README.md documents every variable.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { ConfigError, type EnvTable, bool, int, list, parseEnvTable } from "../core/envTable.js";
import type { LogLevel } from "../core/log.js";
import type { PreflightSettings } from "../core/preflight.js";
import { RUN_VARIABLES, runSettings } from "../core/runSettings.js";
// A Kubernetes namespace name (RFC 1123 label).
export const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Every variable: its schema and default, as it would arrive from the environment. */
const VARIABLES = {
  SCRIPTRUN_API_PORT: [int(0, 65535), "8080"],
  SCRIPTRUN_API_HOST: [z.string().min(1), "127.0.0.1"],
  SCRIPTRUN_API_NAMESPACE: [z.string().regex(NAMESPACE, "must be a namespace name").max(63), "default"],
  SCRIPTRUN_API_AUTH: [z.enum(["kubernetes", "none"]), "kubernetes"],
  SCRIPTRUN_API_AUTH_CACHE_SECONDS: [int(0, 3600), "30"],
  SCRIPTRUN_API_CORS_ORIGINS: [list, ""],
  SCRIPTRUN_API_MAX_BODY_BYTES: [int(1024, 64 * 1024 * 1024), String(2 * 1024 * 1024)],
  SCRIPTRUN_API_MAX_WAIT_SECONDS: [int(1, 3600), "60"],
  SCRIPTRUN_API_MAX_CONCURRENT_WAITS: [int(1), "1000"],
  SCRIPTRUN_API_CLUSTER_TIMEOUT_MS: [int(100, 120_000), "10000"],
  SCRIPTRUN_API_REQUEST_TIMEOUT_SECONDS: [int(1, 3600), "30"],
  SCRIPTRUN_API_HEARTBEAT_SECONDS: [int(1, 300), "15"],
  SCRIPTRUN_API_RELIST_SECONDS: [int(10), "120"],
  SCRIPTRUN_API_RECHECK_SECONDS: [int(1, 3600), "10"],
  SCRIPTRUN_API_HOLD_WHEN_FULL: [bool, "false"],
  SCRIPTRUN_API_RUN_TTL_SECONDS: [z.union([z.literal(""), int(0)]), "3600"],
  SCRIPTRUN_API_KUBECONFIG: [z.string(), ""],
  SCRIPTRUN_API_PLAYGROUND_DIR: [z.string(), ""],
} as const satisfies EnvTable;

export const API_VARIABLES = Object.keys(VARIABLES);

export interface ApiConfig {
  port: number;
  host: string;
  /** Where runs go when a request names no namespace. */
  defaultNamespace: string;
  auth: "kubernetes" | "none";
  authCacheSeconds: number;
  /** Empty: CORS off. "*" allows any origin. */
  corsOrigins: string[];
  maxBodyBytes: number;
  maxWaitSeconds: number;
  maxConcurrentWaits: number;
  /** Longest wait for one call to the Kubernetes API; past it the request answers 503. */
  clusterTimeoutMs: number;
  /** Longest time a client may take to send a whole request. */
  requestTimeoutSeconds: number;
  heartbeatSeconds: number;
  relistSeconds: number;
  /** Awaited runs are fetched again this often once awaited this long (a stuck watch's cost). */
  recheckSeconds: number;
  /** /execute holds calls on a full node instead of creating their runs at once (admission.ts). */
  holdWhenFull: boolean;
  /** ttlSecondsAfterFinished of the runs the API creates; undefined keeps them. */
  runTtlSeconds: number | undefined;
  /** Empty: the service account in a pod, else KUBECONFIG or ~/.kube/config. */
  kubeconfig: string;
  /** Where the playground page's bundle is (playground/build.ts writes it). */
  playgroundDir: string;
  version: string;
  /** The most UTF-8 bytes a script may have, whatever its runtime. */
  maxScriptBytes: number;
  preflight: PreflightSettings;
  logLevel: LogLevel;
}

/** The API's configuration error is the one every process reports the same way. */
export { ConfigError as ApiConfigError };

/** The directory of the package.json of the checkout (or of dist/'s parent, in an image). */
function packageRoot(): string | undefined {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

function packageVersion(root: string | undefined): string {
  if (root === undefined) return "unknown";
  return (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version?: string }).version ?? "unknown";
}

/** Reads and validates the configuration; throws an ApiConfigError naming every bad variable. */
export function loadApiConfig(environment: NodeJS.ProcessEnv = process.env): ApiConfig {
  const env = parseEnvTable({ ...RUN_VARIABLES, ...VARIABLES }, environment);
  const run = runSettings(env);
  const root = packageRoot();
  return {
    port: env.SCRIPTRUN_API_PORT,
    host: env.SCRIPTRUN_API_HOST,
    defaultNamespace: env.SCRIPTRUN_API_NAMESPACE,
    auth: env.SCRIPTRUN_API_AUTH,
    authCacheSeconds: env.SCRIPTRUN_API_AUTH_CACHE_SECONDS,
    corsOrigins: env.SCRIPTRUN_API_CORS_ORIGINS,
    maxBodyBytes: env.SCRIPTRUN_API_MAX_BODY_BYTES,
    maxWaitSeconds: env.SCRIPTRUN_API_MAX_WAIT_SECONDS,
    maxConcurrentWaits: env.SCRIPTRUN_API_MAX_CONCURRENT_WAITS,
    clusterTimeoutMs: env.SCRIPTRUN_API_CLUSTER_TIMEOUT_MS,
    requestTimeoutSeconds: env.SCRIPTRUN_API_REQUEST_TIMEOUT_SECONDS,
    heartbeatSeconds: env.SCRIPTRUN_API_HEARTBEAT_SECONDS,
    relistSeconds: env.SCRIPTRUN_API_RELIST_SECONDS,
    recheckSeconds: env.SCRIPTRUN_API_RECHECK_SECONDS,
    holdWhenFull: env.SCRIPTRUN_API_HOLD_WHEN_FULL,
    runTtlSeconds: env.SCRIPTRUN_API_RUN_TTL_SECONDS === "" ? undefined : env.SCRIPTRUN_API_RUN_TTL_SECONDS,
    kubeconfig: env.SCRIPTRUN_API_KUBECONFIG,
    // Where `npm run build` and the image build put the bundle, beside the compiled sources.
    playgroundDir: env.SCRIPTRUN_API_PLAYGROUND_DIR || join(root ?? ".", "dist", "public"),
    version: packageVersion(root),
    maxScriptBytes: run.maxScriptBytes,
    preflight: run.preflight,
    logLevel: run.logLevel,
  };
}

// The settings both processes need to judge a run the same way: the defaults and caps of what a
// run may ask for, the default import policy, the preflight checker, and the log level. The
// controller and the API each read these (SCRIPTRUN_*) beside their own variables, so the API
// refuses exactly what the controller would; operator/README.md documents them.
import { z } from "zod";
import { DEFAULT_MAX_SCRIPT_BYTES, HARD_MAX_SCRIPT_BYTES, HARD_MAX_TIMEOUT_SECONDS } from "../crds/schema.js";
import { type EnvTable, type EnvValues, int, list, quantity } from "./envTable.js";
import type { LogLevel } from "./log.js";
import { type PreflightSettings, defaultRunnerPath } from "./preflight.js";
import { parseQuantity } from "./quantity.js";
import type { RequestLimits } from "./request.js";

const moduleList = list.pipe(z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a top-level module name")));

export const RUN_VARIABLES = {
  SCRIPTRUN_RUNNER_PATH: [z.string(), ""],
  SCRIPTRUN_PYTHON: [z.string().min(1), "python3"],
  SCRIPTRUN_PREFLIGHT_TIMEOUT_MS: [int(100), "10000"],
  SCRIPTRUN_PREFLIGHT_WORKERS: [int(1), "2"],
  SCRIPTRUN_DEFAULT_TIMEOUT_SECONDS: [int(1, HARD_MAX_TIMEOUT_SECONDS), "10"],
  SCRIPTRUN_MAX_TIMEOUT_SECONDS: [int(1, HARD_MAX_TIMEOUT_SECONDS), "300"],
  SCRIPTRUN_DEFAULT_CPU: [quantity, "500m"],
  SCRIPTRUN_MAX_CPU: [quantity, "2"],
  SCRIPTRUN_DEFAULT_MEMORY: [quantity, "256Mi"],
  SCRIPTRUN_MAX_MEMORY: [quantity, "2Gi"],
  SCRIPTRUN_DEFAULT_PIDS: [int(1), "64"],
  SCRIPTRUN_MAX_PIDS: [int(1), "1024"],
  SCRIPTRUN_DEFAULT_OUTPUT_BYTES: [int(1), String(1024 * 1024)],
  SCRIPTRUN_MAX_OUTPUT_BYTES: [int(1), String(4 * 1024 * 1024)],
  SCRIPTRUN_MAX_SCRIPT_BYTES: [int(1, HARD_MAX_SCRIPT_BYTES), String(DEFAULT_MAX_SCRIPT_BYTES)],
  SCRIPTRUN_IMPORT_ALLOW: [moduleList, ""],
  SCRIPTRUN_IMPORT_DENY: [moduleList, ""],
  SCRIPTRUN_LOG_LEVEL: [z.enum(["fatal", "error", "warn", "info", "debug", "trace"]), "info"],
} as const satisfies EnvTable;

export interface RunSettings {
  limits: RequestLimits;
  preflight: PreflightSettings;
  logLevel: LogLevel;
}

export type RunEnv = EnvValues<typeof RUN_VARIABLES>;

/** What is wrong across the run variables (a default above its maximum). */
export function runSettingProblems(env: RunEnv): string[] {
  const pairs: Array<[string, number, number]> = [
    ["TIMEOUT_SECONDS", env.SCRIPTRUN_DEFAULT_TIMEOUT_SECONDS, env.SCRIPTRUN_MAX_TIMEOUT_SECONDS],
    ["CPU", parseQuantity(env.SCRIPTRUN_DEFAULT_CPU), parseQuantity(env.SCRIPTRUN_MAX_CPU)],
    ["MEMORY", parseQuantity(env.SCRIPTRUN_DEFAULT_MEMORY), parseQuantity(env.SCRIPTRUN_MAX_MEMORY)],
    ["PIDS", env.SCRIPTRUN_DEFAULT_PIDS, env.SCRIPTRUN_MAX_PIDS],
    ["OUTPUT_BYTES", env.SCRIPTRUN_DEFAULT_OUTPUT_BYTES, env.SCRIPTRUN_MAX_OUTPUT_BYTES],
  ];
  return pairs.filter(([, dflt, max]) => dflt > max).map(([name]) => `SCRIPTRUN_DEFAULT_${name} exceeds SCRIPTRUN_MAX_${name}`);
}

/** The run settings of parsed variables (check runSettingProblems first). */
export function runSettings(env: RunEnv): RunSettings {
  return {
    limits: {
      timeoutSeconds: { default: env.SCRIPTRUN_DEFAULT_TIMEOUT_SECONDS, max: env.SCRIPTRUN_MAX_TIMEOUT_SECONDS },
      cpu: { default: env.SCRIPTRUN_DEFAULT_CPU, max: env.SCRIPTRUN_MAX_CPU },
      memory: { default: env.SCRIPTRUN_DEFAULT_MEMORY, max: env.SCRIPTRUN_MAX_MEMORY },
      pids: { default: env.SCRIPTRUN_DEFAULT_PIDS, max: env.SCRIPTRUN_MAX_PIDS },
      outputBytes: { default: env.SCRIPTRUN_DEFAULT_OUTPUT_BYTES, max: env.SCRIPTRUN_MAX_OUTPUT_BYTES },
      maxScriptBytes: env.SCRIPTRUN_MAX_SCRIPT_BYTES,
      importPolicy: {
        ...(env.SCRIPTRUN_IMPORT_ALLOW.length > 0 ? { allow: env.SCRIPTRUN_IMPORT_ALLOW } : {}),
        ...(env.SCRIPTRUN_IMPORT_DENY.length > 0 ? { deny: env.SCRIPTRUN_IMPORT_DENY } : {}),
      },
    },
    preflight: {
      runnerPath: env.SCRIPTRUN_RUNNER_PATH || defaultRunnerPath(),
      python: env.SCRIPTRUN_PYTHON,
      timeoutMs: env.SCRIPTRUN_PREFLIGHT_TIMEOUT_MS,
      workers: env.SCRIPTRUN_PREFLIGHT_WORKERS,
    },
    logLevel: env.SCRIPTRUN_LOG_LEVEL,
  };
}

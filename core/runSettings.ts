// The settings both processes need to judge a run the same way: the script-size cap (one for every
// runtime), the preflight checker, and the log level. What a run may ask for otherwise belongs to
// its ScriptRuntime (core/runtime.ts). The controller and the API each read these (SCRIPTRUN_*)
// beside their own variables, so the API refuses exactly what the controller would;
// operator/README.md documents them.
import { z } from "zod";
import { DEFAULT_MAX_SCRIPT_BYTES, HARD_MAX_SCRIPT_BYTES } from "../crds/schema.js";
import { type EnvTable, type EnvValues, int } from "./envTable.js";
import type { LogLevel } from "./log.js";
import { type PreflightSettings, defaultRunnerPath } from "./preflight.js";

export const RUN_VARIABLES = {
  SCRIPTRUN_RUNNER_PATH: [z.string(), ""],
  SCRIPTRUN_PYTHON: [z.string().min(1), "python3"],
  SCRIPTRUN_PREFLIGHT_TIMEOUT_MS: [int(100), "10000"],
  SCRIPTRUN_PREFLIGHT_WORKERS: [int(1), "2"],
  SCRIPTRUN_MAX_SCRIPT_BYTES: [int(1, HARD_MAX_SCRIPT_BYTES), String(DEFAULT_MAX_SCRIPT_BYTES)],
  SCRIPTRUN_LOG_LEVEL: [z.enum(["fatal", "error", "warn", "info", "debug", "trace"]), "info"],
} as const satisfies EnvTable;

export interface RunSettings {
  /** The most UTF-8 bytes a script may have, whatever its runtime. */
  maxScriptBytes: number;
  preflight: PreflightSettings;
  logLevel: LogLevel;
}

export type RunEnv = EnvValues<typeof RUN_VARIABLES>;

/** The run settings of parsed variables. */
export function runSettings(env: RunEnv): RunSettings {
  return {
    maxScriptBytes: env.SCRIPTRUN_MAX_SCRIPT_BYTES,
    preflight: {
      runnerPath: env.SCRIPTRUN_RUNNER_PATH || defaultRunnerPath(),
      python: env.SCRIPTRUN_PYTHON,
      timeoutMs: env.SCRIPTRUN_PREFLIGHT_TIMEOUT_MS,
      workers: env.SCRIPTRUN_PREFLIGHT_WORKERS,
    },
    logLevel: env.SCRIPTRUN_LOG_LEVEL,
  };
}

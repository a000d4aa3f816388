// Builders shared by unit tests: envelopes and errors as the harness writes them, and the run
// settings as a process would load them from its environment.
import { parseEnvTable } from "./envTable.js";
import type { RequestLimits } from "./request.js";
import { RUN_VARIABLES, runSettings } from "./runSettings.js";

export function envelope(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    success: true, result: 1, stdout: "", stderr: "", stdoutTruncated: false, stderrTruncated: false,
    error: null, exitCode: 0, durationMs: 42, sandbox: { backend: "bubblewrap", memory: "cgroup" }, ...fields,
  };
}

export function harnessError(type: string, message: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { type, message, line: null, traceback: null, suggestions: [], availableFunctions: [], ...fields };
}

/** The request limits a process would load from `env`. */
export function testLimits(env: Record<string, string> = {}): RequestLimits {
  return runSettings(parseEnvTable(RUN_VARIABLES, env)).limits;
}

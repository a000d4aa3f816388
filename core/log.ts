// Structured JSON logs (pino). Messages are capitalised and past tense ("Created pod"), details
// are key-value fields. Script source, stdin, stdout, stderr and results are never logged; the
// redaction below is a second line of defence should a whole object slip into a log call.
import { type Logger, pino } from "pino";

export type { Logger };

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace";

const NEVER_LOGGED = ["script", "stdin", "stdout", "stderr", "result", "args", "kwargs", "traceback"];

export function createLogger(level: string, name = "scriptrun-controller"): Logger {
  return pino({
    name,
    level,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: NEVER_LOGGED.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]),
      censor: "[redacted]",
    },
  });
}

/** A logger that drops everything, for tests. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

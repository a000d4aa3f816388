// From the command line's words to a ScriptRun spec: argument values, the script and its stdin
// read from files or this process's standard input, and the whole checked against the ScriptRun
// schema (crds/schema.ts) before anything is sent, so a mistake is bad usage (exit 2) at once.
import { readFile } from "node:fs/promises";
import { InvalidArgumentError } from "commander";
import { firstInexactNumber, inexactNumberReason } from "../core/exactJson.js";
import { ScriptRunSpecSchema, type ScriptRunSpecInput } from "../crds/schema.js";
import { usage } from "./errors.js";

/** What `run` and `submit` take besides the script. */
export interface RunOptions {
  arg: unknown[];
  kwargs?: Record<string, unknown>;
  stdin?: string;
  runtime?: string;
  timeout?: number;
  cpu?: string;
  memory?: string;
  mode?: "function" | "script";
  entrypoint?: string;
  /** Sent with the create, not in the spec: a run the same key made already is answered instead. */
  idempotencyKey?: string;
}

/** Refuses JSON text whose reading here has changed a number: the script would get another one. */
function requireExactNumbers(json: string): void {
  const literal = firstInexactNumber(json);
  if (literal === undefined) return;
  const reason = inexactNumberReason(literal);
  throw new InvalidArgumentError(`${reason[0]!.toUpperCase()}${reason.slice(1)}.`);
}

/** An --arg value: JSON when it parses as JSON (3, true, [1, 2], "a"), else the text itself. */
export function parseArg(value: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return value;
  }
  requireExactNumbers(value);
  return parsed;
}

/** A --kwargs value: a JSON object, or why not. */
export function parseKwargs(value: string): Record<string, unknown> | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    return `not JSON (${(err as Error).message})`;
  }
  requireExactNumbers(value);
  return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
    ? parsed as Record<string, unknown>
    : "not a JSON object, e.g. '{\"name\": \"Ada\"}'";
}

/** Whole seconds, from 1 up. */
export function parseSeconds(value: string): number | undefined {
  return /^[1-9][0-9]*$/.test(value) ? Number(value) : undefined;
}

export interface Inputs {
  /** Reads all of this process's standard input, once, as the bytes it is. */
  readStdin(): Promise<Uint8Array>;
}

// fatal: bytes that are not UTF-8 are refused, not replaced with U+FFFD; ignoreBOM: a BOM is kept, as
// readFile's "utf8" kept it.
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The text of `bytes`, read from `what`. The script and its stdin are text: the API refuses a file that
 * is not UTF-8, and decoding one here would hand the script other bytes than the file's. */
function utf8Text(bytes: Uint8Array, what: string): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw usage(`${what} is not UTF-8 text`);
  }
}

/** The text of the file at `path`, which is `what`: bad usage when it cannot be read or is not UTF-8. */
async function readText(path: string, what: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw usage(`Could not read ${what}: ${(err as Error).message}`);
  }
  return utf8Text(bytes, `${what[0]!.toUpperCase()}${what.slice(1)}`);
}

/** The script of `run FILE` (`-`: standard input). */
export async function readScript(file: string, inputs: Inputs): Promise<string> {
  if (file === "-") return utf8Text(await inputs.readStdin(), "The script (standard input)");
  return readText(file, `the script ${file}`);
}

/** The script's standard input as --stdin gives it: text, @FILE, or @- for this process's stdin. */
export async function readStdinOption(value: string | undefined, file: string, inputs: Inputs): Promise<string | undefined> {
  if (value === undefined || !value.startsWith("@")) return value;
  const source = value.slice(1);
  if (source === "-") {
    if (file === "-") throw usage("The script and --stdin cannot both be read from standard input");
    return utf8Text(await inputs.readStdin(), "--stdin @- (standard input)");
  }
  return readText(source, `--stdin ${value}`);
}

/** The spec the options ask for, checked against the ScriptRun schema. */
export function buildSpec(script: string, options: RunOptions): ScriptRunSpecInput {
  const resources = {
    ...(options.cpu !== undefined ? { cpu: options.cpu } : {}),
    ...(options.memory !== undefined ? { memory: options.memory } : {}),
  };
  const spec: ScriptRunSpecInput = {
    script,
    ...(options.mode !== undefined ? { mode: options.mode } : {}),
    ...(options.entrypoint !== undefined ? { entrypoint: options.entrypoint } : {}),
    ...(options.arg.length > 0 ? { args: options.arg } : {}),
    ...(options.kwargs !== undefined ? { kwargs: options.kwargs } : {}),
    ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
    ...(options.timeout !== undefined ? { timeoutSeconds: options.timeout } : {}),
    ...(Object.keys(resources).length > 0 ? { resources } : {}),
    ...(options.runtime !== undefined ? { runtime: options.runtime } : {}),
  };
  const checked = ScriptRunSpecSchema.safeParse(spec);
  if (!checked.success) {
    throw usage(checked.error.issues.map((i) => `${FLAG_OF[i.path.join(".")] ?? FLAG_OF[String(i.path[0])] ?? i.path.join(".")}: ${i.message}`).join("\n"));
  }
  if (spec.mode === "script" && (spec.entrypoint !== undefined || spec.args !== undefined || spec.kwargs !== undefined)) {
    throw usage("--mode script runs the file top to bottom: it takes no --entrypoint, --arg or --kwargs");
  }
  return spec;
}

/** The option that sets each spec field, as a refusal names it. */
const FLAG_OF: Record<string, string> = {
  script: "the script", mode: "--mode", entrypoint: "--entrypoint", args: "--arg", kwargs: "--kwargs", stdin: "--stdin",
  timeoutSeconds: "--timeout", "resources.cpu": "--cpu", "resources.memory": "--memory", runtime: "--runtime",
};

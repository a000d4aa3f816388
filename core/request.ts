// The request the harness gets: the ScriptRun spec with its runtime's defaults filled in.
// A value above the runtime's maximum is refused with a reason naming both, never lowered: the
// run then fails with invalid_input before any pod exists.
import { type ScriptRunSpec, ScriptRunSpecSchema } from "../crds/schema.js";
import { parseQuantity } from "./quantity.js";

/** The harness's request format (docs/architecture.md). */
export interface RunnerRequest {
  script: string;
  mode: "function" | "script";
  entrypoint: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  stdin: string;
  timeoutSeconds: number;
  resources: { cpu: string; memory: string };
  limits: { pids: number; outputBytes: number };
  /** Absent: no import policy. */
  imports?: { allow?: string[]; deny?: string[] };
}

export interface Bounds<T> { default: T; max: T }

/** What a run may ask for: the defaults filled in where the spec says nothing, and the caps. */
export interface RequestLimits {
  /** Whose limits these are, as refusals name it: `runtime "python"`. */
  of: string;
  timeoutSeconds: Bounds<number>;
  cpu: Bounds<string>;
  memory: Bounds<string>;
  pids: Bounds<number>;
  outputBytes: Bounds<number>;
  maxScriptBytes: number;
  importPolicy: { allow?: string[]; deny?: string[] };
}

export type Resolution = { ok: true; request: RunnerRequest } | { ok: false; reasons: string[] };

// A ConfigMap holds at most 1 MiB of data; leave room for the key and JSON framing.
export const MAX_REQUEST_BYTES = 1024 * 1024 - 1024;

/** The one script-size rule, in UTF-8 bytes: why `script` (sent as `field`) is too large, or
 * undefined when it fits. The API answers it as 413, the controller as invalid_input. */
export function scriptTooLarge(script: string, maxBytes: number, field = "script"): string | undefined {
  const bytes = Buffer.byteLength(script, "utf8");
  return bytes > maxBytes ? `${field} is ${bytes} bytes; at most ${maxBytes} are allowed` : undefined;
}

/** How deep an argument (or a result) may nest lists and objects: the harness's MAX_DEPTH. */
export const MAX_NESTING = 100;

/**
 * Whether a parsed JSON value nests arrays and objects more than `room` levels deep (looking no
 * deeper), as the harness's nested_past. Level by level, not by recursion: a value may nest
 * thousands deep, past what a recursive walk (or JSON.stringify) has stack for.
 */
export function nestedPast(value: unknown, room: number): boolean {
  let level = [value];
  for (let depth = 0; level.length > 0; depth++) {
    const next: unknown[] = [];
    for (const member of level) {
      if (typeof member !== "object" || member === null) continue;
      if (depth === room) return true;
      for (const inner of Array.isArray(member) ? member : Object.values(member)) next.push(inner);
    }
    level = next;
  }
  return false;
}

/** Why args or kwargs nest too deep for the harness, before anything serialises them. */
function nestingReasons(spec: ScriptRunSpec): string[] {
  // args and kwargs are a level themselves, as in the harness.
  return (["args", "kwargs"] as const).filter((key) => nestedPast(spec[key], MAX_NESTING + 1)).map((key) =>
    `${key} holds a value nested more than ${MAX_NESTING} levels deep (lists and objects inside one another), the most an argument or a result may be`);
}

function capReasons(spec: ScriptRunSpec, request: RunnerRequest, limits: RequestLimits): string[] {
  const reasons: string[] = [];
  const tooLarge = scriptTooLarge(spec.script, limits.maxScriptBytes);
  if (tooLarge) reasons.push(tooLarge);
  if (request.timeoutSeconds > limits.timeoutSeconds.max) {
    reasons.push(`timeoutSeconds ${request.timeoutSeconds} exceeds the maximum of ${limits.timeoutSeconds.max} of ${limits.of}`);
  }
  if (parseQuantity(request.resources.cpu) > parseQuantity(limits.cpu.max)) {
    reasons.push(`resources.cpu ${request.resources.cpu} exceeds the maximum of ${limits.cpu.max} of ${limits.of}`);
  }
  if (parseQuantity(request.resources.cpu) <= 0) reasons.push("resources.cpu must be more than 0");
  if (parseQuantity(request.resources.memory) > parseQuantity(limits.memory.max)) {
    reasons.push(`resources.memory ${request.resources.memory} exceeds the maximum of ${limits.memory.max} of ${limits.of}`);
  }
  if (parseQuantity(request.resources.memory) < 1024 * 1024) reasons.push("resources.memory must be at least 1Mi");
  if (request.limits.pids > limits.pids.max) {
    reasons.push(`limits.pids ${request.limits.pids} exceeds the maximum of ${limits.pids.max} of ${limits.of}`);
  }
  if (request.limits.outputBytes > limits.outputBytes.max) {
    reasons.push(`limits.outputBytes ${request.limits.outputBytes} exceeds the maximum of ${limits.outputBytes.max} of ${limits.of}`);
  }
  const requestBytes = Buffer.byteLength(JSON.stringify(request), "utf8");
  if (requestBytes > MAX_REQUEST_BYTES) {
    reasons.push(`the request (script, stdin, args and kwargs) is ${requestBytes} bytes; at most ${MAX_REQUEST_BYTES} fit`);
  }
  return reasons;
}

/** The harness request for a spec, or why the spec is refused. */
export function resolveRequest(spec: unknown, limits: RequestLimits): Resolution {
  const parsed = ScriptRunSpecSchema.safeParse(spec);
  if (!parsed.success) {
    return { ok: false, reasons: parsed.error.issues.map((i) => `${i.path.join(".") || "spec"}: ${i.message}`) };
  }
  const s = parsed.data;
  const tooDeep = nestingReasons(s);
  if (tooDeep.length > 0) return { ok: false, reasons: tooDeep };
  const imports = s.imports ?? limits.importPolicy;
  const request: RunnerRequest = {
    script: s.script,
    mode: s.mode,
    entrypoint: s.entrypoint,
    args: s.args ?? [],
    kwargs: s.kwargs ?? {},
    stdin: s.stdin ?? "",
    timeoutSeconds: s.timeoutSeconds ?? limits.timeoutSeconds.default,
    resources: { cpu: s.resources?.cpu ?? limits.cpu.default, memory: s.resources?.memory ?? limits.memory.default },
    limits: { pids: s.limits?.pids ?? limits.pids.default, outputBytes: s.limits?.outputBytes ?? limits.outputBytes.default },
    ...(imports.allow !== undefined || imports.deny !== undefined ? { imports } : {}),
  };
  const reasons = capReasons(s, request, limits);
  return reasons.length > 0 ? { ok: false, reasons } : { ok: true, request };
}

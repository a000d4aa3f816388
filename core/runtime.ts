// Which ScriptRuntime a run gets, and what that runtime allows: pure, shared by the controller (which
// starts the run on it) and the API (which refuses early what the controller would refuse).
import {
  DEFAULT_RUNTIME_ANNOTATION, type LabelSelector, type ScriptRuntime, type ScriptRuntimeSpec, ScriptRuntimeSpecSchema,
} from "../crds/runtime.js";
import { parseQuantity } from "./quantity.js";
import type { RequestLimits } from "./request.js";

/** A runtime as a run uses it: its name, its generation and its spec with the defaults applied. */
export interface Runtime {
  name: string;
  generation: number;
  spec: ScriptRuntimeSpec;
}

/** The namespace a run is in, as a namespaceSelector sees it. */
export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
}

export type Choice = { ok: true; runtime: Runtime } | { ok: false; reason: string };

export const isDefault = (runtime: ScriptRuntime) => runtime.metadata.annotations?.[DEFAULT_RUNTIME_ANNOTATION] === "true";

export type ParsedRuntime = { ok: true; runtime: Runtime } | { ok: false; problems: string[] };

// Each cached runtime object is parsed once: a cache replaces the object at every change and never
// edits one. A start parsed its runtime with zod each time: 3% of the controller's CPU.
const parsedRuntimes = new WeakMap<ScriptRuntime, ParsedRuntime>();

/** What is wrong with a runtime's spec, beyond what the CRD schema checks (an object written
 * before the schema had a rule, or one an older CRD let through). The answer is shared: do not
 * change it, nor the object after asking. */
export function parseRuntime(runtime: ScriptRuntime): ParsedRuntime {
  let parsed = parsedRuntimes.get(runtime);
  if (!parsed) {
    parsed = parseRuntimeSpec(runtime);
    parsedRuntimes.set(runtime, parsed);
  }
  return parsed;
}

function parseRuntimeSpec(runtime: ScriptRuntime): ParsedRuntime {
  const parsed = ScriptRuntimeSpecSchema.safeParse(runtime.spec);
  if (!parsed.success) return { ok: false, problems: parsed.error.issues.map((i) => `spec.${i.path.join(".")}: ${i.message}`) };
  const { defaults, maxima } = parsed.data;
  const value = (v: string | number) => (typeof v === "string" ? parseQuantity(v) : v);
  const problems = (["timeoutSeconds", "cpu", "memory", "pids", "outputBytes"] as const)
    .filter((f) => value(defaults[f]) > value(maxima[f]))
    .map((f) => `defaults.${f} exceeds maxima.${f}`);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, runtime: { name: runtime.metadata.name ?? "", generation: runtime.metadata.generation ?? 0, spec: parsed.data } };
}

/** Whether a namespace's labels satisfy a label selector (Kubernetes' semantics: every clause holds). */
export function matchesSelector(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  const byLabel = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  return byLabel && (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    const has = Object.hasOwn(labels, key);
    switch (operator) {
      case "In": return has && values.includes(labels[key]!);
      case "NotIn": return !has || !values.includes(labels[key]!);
      case "Exists": return has;
      case "DoesNotExist": return !has;
    }
  });
}

const names = (runtimes: readonly ScriptRuntime[]) => runtimes.map((r) => r.metadata.name ?? "").sort().join(", ") || "none";

/** Whether runs in `namespace` may use the runtime, as far as its selector says. */
const admits = (runtime: ScriptRuntime, namespace: NamespaceInfo) => {
  const parsed = parseRuntime(runtime);
  return parsed.ok && matchesSelector(parsed.runtime.spec.namespaceSelector, namespace.labels);
};

/** The runtime a run in `namespace` gets: the one it names, or the default. */
export function chooseRuntime(requested: string | undefined, runtimes: readonly ScriptRuntime[], namespace: NamespaceInfo): Choice {
  let picked: ScriptRuntime | undefined;
  if (requested !== undefined) {
    picked = runtimes.find((r) => r.metadata.name === requested);
    if (!picked) {
      return { ok: false, reason: `runtime "${requested}" does not exist; the runtimes this namespace may use are: ${names(runtimes.filter((r) => admits(r, namespace)))}` };
    }
  } else {
    const defaults = runtimes.filter(isDefault);
    if (defaults.length === 0) {
      return { ok: false, reason: `no runtime is annotated ${DEFAULT_RUNTIME_ANNOTATION}: "true"; name one in runtime (${names(runtimes)})` };
    }
    if (defaults.length > 1) {
      return { ok: false, reason: `runtimes ${names(defaults)} are all annotated ${DEFAULT_RUNTIME_ANNOTATION}: "true"; name one in runtime` };
    }
    picked = defaults[0]!;
  }
  const name = picked.metadata.name ?? "";
  const parsed = parseRuntime(picked);
  if (!parsed.ok) return { ok: false, reason: `runtime "${name}" is not usable: ${parsed.problems.join("; ")}` };
  if (!matchesSelector(parsed.runtime.spec.namespaceSelector, namespace.labels)) {
    return { ok: false, reason: `runtime "${name}" may not be used in namespace "${namespace.name}": its namespaceSelector does not match the namespace's labels` };
  }
  return parsed;
}

/** What a run on `runtime` may ask for; `maxScriptBytes` is the operator's, for every runtime. */
export function runtimeLimits(runtime: Runtime, maxScriptBytes: number): RequestLimits {
  const { defaults, maxima, imports } = runtime.spec;
  return {
    of: `runtime "${runtime.name}"`,
    timeoutSeconds: { default: defaults.timeoutSeconds, max: maxima.timeoutSeconds },
    cpu: { default: defaults.cpu, max: maxima.cpu },
    memory: { default: defaults.memory, max: maxima.memory },
    pids: { default: defaults.pids, max: maxima.pids },
    outputBytes: { default: defaults.outputBytes, max: maxima.outputBytes },
    maxScriptBytes,
    importPolicy: {
      ...(imports?.allow !== undefined ? { allow: imports.allow } : {}),
      ...(imports?.deny !== undefined ? { deny: imports.deny } : {}),
    },
  };
}

/** The module a ModuleNotFoundError names, if the message is one. */
export function missingModule(message: string): string | undefined {
  return /No module named '([A-Za-z_][A-Za-z0-9_]*)/.exec(message)?.[1];
}

/** A hint naming the runtimes (other than `current`) that `namespace` may use and whose image has `module`. */
export function moduleSuggestion(module: string, current: string, runtimes: readonly ScriptRuntime[], namespace: NamespaceInfo): string | undefined {
  const having = runtimes.filter((r) => r.metadata.name !== current && (r.spec.modules ?? []).includes(module) && admits(r, namespace));
  if (having.length === 0) return undefined;
  const list = having.map((r) => r.metadata.name ?? "").sort();
  return `Module '${module}' is in runtime${list.length > 1 ? "s" : ""} ${list.map((n) => `"${n}"`).join(", ")}: set runtime: ${list[0]} on the run`;
}

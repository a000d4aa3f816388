// Builders shared by the operator's unit tests: runs, configuration, runner pods in each state
// the kubelet reports, and envelopes as the harness writes them.
import type { V1ContainerState, V1Pod } from "@kubernetes/client-node";
import { resolveRequest } from "../core/request.js";
import { type Runtime, parseRuntime, runtimeLimits } from "../core/runtime.js";
import { aRuntime } from "../core/testkit.js";
export { aRuntime, envelope, harnessError, testRuntimes } from "../core/testkit.js";
import { API_VERSION, KIND, type ScriptRun, type ScriptRunSpecInput } from "../crds/schema.js";
import { type Config, loadConfig } from "./config.js";
import { buildPod } from "./podSpec.js";

/** RFC 7386 as the apiserver applies it: null deletes, and nulls inside new values are pruned. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return prune(patch);
  const out: Record<string, unknown> = target !== null && typeof target === "object" && !Array.isArray(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = applyMergePatch(out[key], value);
  }
  return out;
}
function prune(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(prune);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, prune(v)]));
}

export const T0 = Date.parse("2025-06-01T12:00:00Z");

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ SCRIPTRUN_RUNNER_PATH: "/opt/scriptrun/runner.py", SCRIPTRUN_LEADER_IDENTITY: "test", ...env });
}

let uid = 0;

export function aRun(name: string, spec: Partial<ScriptRunSpecInput> = {}, extra: { namespace?: string; createdMs?: number } = {}): ScriptRun {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name,
      namespace: extra.namespace ?? "default",
      uid: `uid-${name}-${++uid}`,
      generation: 1,
      resourceVersion: "1",
      creationTimestamp: new Date(extra.createdMs ?? T0).toISOString(),
    },
    spec: { script: "def main():\n    return 1\n", ...spec },
  };
}

/** A runtime as a run uses it (parsed, defaults applied). */
export function aParsedRuntime(...args: Parameters<typeof aRuntime>): Runtime {
  const parsed = parseRuntime(aRuntime(...args));
  if (!parsed.ok) throw new Error(parsed.problems.join("; "));
  return parsed.runtime;
}

/** The pod the controller would create for `run` on `runtime`, with the status the kubelet would report. */
export function aPod(run: ScriptRun, config: Config, status: { phase?: string; reason?: string; state?: V1ContainerState;
  createdMs?: number; conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> } = {},
  runtime: Runtime = aParsedRuntime()): V1Pod {
  const resolved = resolveRequest(run.spec, runtimeLimits(runtime, config.maxScriptBytes));
  if (!resolved.ok) throw new Error(resolved.reasons.join("; "));
  const pod = buildPod(run, resolved.request, runtime, config);
  pod.metadata!.creationTimestamp = new Date(status.createdMs ?? T0);
  pod.status = {
    phase: status.phase ?? "Pending",
    ...(status.reason ? { reason: status.reason } : {}),
    ...(status.conditions ? { conditions: status.conditions } : {}),
    ...(status.state ? { containerStatuses: [{ name: "runner", image: runtime.spec.image, imageID: "", ready: false, restartCount: 0, state: status.state }] } : {}),
  };
  return pod;
}

export function running(startedMs = T0 + 1000): V1ContainerState {
  return { running: { startedAt: new Date(startedMs) } };
}

export function terminated(message: string | undefined, extra: { exitCode?: number; reason?: string; finishedMs?: number } = {}): V1ContainerState {
  return {
    terminated: {
      exitCode: extra.exitCode ?? 0,
      reason: extra.reason ?? "Completed",
      startedAt: new Date(T0 + 1000),
      finishedAt: new Date(extra.finishedMs ?? T0 + 3000),
      ...(message !== undefined ? { message } : {}),
    },
  };
}

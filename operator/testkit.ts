// Builders shared by the operator's unit tests: runs, configuration, runner pods in each state
// the kubelet reports, and envelopes as the harness writes them.
import type { V1ContainerState, V1Pod } from "@kubernetes/client-node";
import { resolveRequest } from "../core/request.js";
export { envelope, harnessError } from "../core/testkit.js";
import { API_VERSION, KIND, type ScriptRun, type ScriptRunSpecInput } from "../crds/schema.js";
import { type Config, loadConfig } from "./config.js";
import { buildPod } from "./podSpec.js";

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

/** The pod the controller would create for `run`, with the status the kubelet would report. */
export function aPod(run: ScriptRun, config: Config, status: { phase?: string; reason?: string; state?: V1ContainerState;
  createdMs?: number; conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> } = {}): V1Pod {
  const resolved = resolveRequest(run.spec, config);
  if (!resolved.ok) throw new Error(resolved.reasons.join("; "));
  const pod = buildPod(run, resolved.request, config);
  pod.metadata!.creationTimestamp = new Date(status.createdMs ?? T0);
  pod.status = {
    phase: status.phase ?? "Pending",
    ...(status.reason ? { reason: status.reason } : {}),
    ...(status.conditions ? { conditions: status.conditions } : {}),
    ...(status.state ? { containerStatuses: [{ name: "runner", image: config.runnerImage, imageID: "", ready: false, restartCount: 0, state: status.state }] } : {}),
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

// Starts the real controller as a child process against the test cluster, the
// way it runs in production (its own process, its own informers and queue).
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import type { Outcome } from "../cases.js";
import { type Build, custom, eventually, serverNodeArgs } from "./kube.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** `output`: where its stdout and stderr go (this process's own, or an open file). */
export function startController(namespace: string, env: Record<string, string> = {}, build: Build = "source",
  output: "inherit" | number = "inherit", entry = "operator/main"): ChildProcess {
  const child = spawn("node", serverNodeArgs(entry, build), {
    cwd: repo,
    env: {
      ...process.env,
      SCRIPTRUN_WATCH_NAMESPACES: namespace,
      SCRIPTRUN_LEADER_ELECTION: "false",
      SCRIPTRUN_METRICS_PORT: "0",
      SCRIPTRUN_LOG_LEVEL: "warn",
      ...env,
    },
    stdio: ["ignore", output, output],
  });
  return child;
}

export async function stopController(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill(signal);
  await exited;
}

export interface ScriptRunObject {
  metadata: k8s.V1ObjectMeta;
  spec: Record<string, unknown>;
  status?: Record<string, unknown> & { phase?: string };
}

const api = { group: "scriptrun.dev", version: "v1alpha1", plural: "scriptruns" };

export async function createRun(namespace: string, name: string, spec: Record<string, unknown>): Promise<void> {
  await custom.createNamespacedCustomObject({
    ...api, namespace, body: { apiVersion: "scriptrun.dev/v1alpha1", kind: "ScriptRun", metadata: { name }, spec },
  });
}

export async function getRun(namespace: string, name: string): Promise<ScriptRunObject> {
  return (await custom.getNamespacedCustomObject({ ...api, namespace, name })) as ScriptRunObject;
}

export async function deleteRun(namespace: string, name: string): Promise<void> {
  await custom.deleteNamespacedCustomObject({ ...api, namespace, name });
}

/** Waits until the run is Succeeded or Failed and returns it. */
export async function finished(namespace: string, name: string, timeoutMs = 120_000): Promise<ScriptRunObject> {
  return eventually(`ScriptRun ${namespace}/${name} to finish`, async () => {
    const run = await getRun(namespace, name);
    return ["Succeeded", "Failed"].includes(run.status?.phase ?? "") ? run : undefined;
  }, timeoutMs);
}

/** A finished run's status in the shape the case checker reads. */
export function outcomeOf(status: Record<string, unknown>): Outcome {
  return {
    success: status.phase === "Succeeded",
    result: status.result ?? null,
    stdout: (status.stdout as string | undefined) ?? "",
    stderr: (status.stderr as string | undefined) ?? "",
    exitCode: status.exitCode as number | undefined,
    error: (status.error as Outcome["error"]) ?? null,
  };
}

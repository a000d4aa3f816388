// What the real-cluster tests (and the benchmark) share: clients for the cluster named by
// KUBECONFIG, a throwaway namespace per suite, polling with a deadline, a free local port, and
// how to start a process of this checkout.
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { delimiter } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { type Runtime, chooseRuntime } from "../../core/runtime.js";
import { RUNTIMES } from "../../core/runtimeCatalog.js";
import type { ScriptRuntime } from "../../crds/runtime.js";

/** The image of the cluster's default runtime, for tests that make a runner pod of their own. */
export const RUNNER_IMAGE = "localhost/scriptrun/runner:test";

/** The kubeconfig of KUBECONFIG (or ~/.kube/config). When none of KUBECONFIG's files exists, as
 * after `make down` with the local cluster's exported, kubectl's default instead (localhost:8080):
 * kubectl passes over such files, where client-node fails, and the unit tests import this module
 * (through the bench's and chaos's helpers) with no cluster at all. */
export function kubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  const files = (process.env.KUBECONFIG ?? "").split(delimiter).filter((file) => file !== "");
  if (files.length > 0 && !files.some((file) => existsSync(file))) {
    kc.loadFromClusterAndUser({ name: "cluster", server: "http://localhost:8080", skipTLSVerify: false }, { name: "user" });
  } else kc.loadFromDefault();
  return kc;
}

export const kc = kubeConfig();
export const core = kc.makeApiClient(k8s.CoreV1Api);
export const custom = kc.makeApiClient(k8s.CustomObjectsApi);

/** The cluster's default runtime (make up installs `python`), as runs that name none get it. */
export async function defaultRuntime(): Promise<Runtime> {
  const list = (await custom.listClusterCustomObject(RUNTIMES)) as { items: ScriptRuntime[] };
  const choice = chooseRuntime(undefined, list.items, { name: "default", labels: {} });
  if (!choice.ok) throw new Error(`The cluster has no usable default runtime: ${choice.reason}`);
  return choice.runtime;
}

/** Polls `probe` until it returns a value other than undefined, or fails naming `what`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

/** Creates a namespace for one suite and returns its name; `deleteNamespace` removes it. */
/** The reasons of the events on an object of `namespace`, as the apiserver lists them. */
export async function eventReasons(namespace: string, name: string): Promise<string[]> {
  return (await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` })).items.map((e) => e.reason ?? "");
}

export async function createNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  await core.createNamespace({ body: { metadata: { name, labels: { "scriptrun.dev/test": "true" } } } });
  // Pods are refused until the namespace's default ServiceAccount exists.
  await eventually(`the default ServiceAccount in ${name}`, async () =>
    (await core.readNamespacedServiceAccount({ name: "default", namespace: name })) ?? undefined);
  return name;
}

export async function deleteNamespace(name: string): Promise<void> {
  await core.deleteNamespace({ name }).catch(() => undefined);
}

/** Waits until GET `url` answers 2xx from the started `child`, failing at once if it exits. */
export async function answering(what: string, child: ChildProcess, url: string): Promise<void> {
  await eventually(what, async () => {
    if (child.exitCode !== null) throw new Error(`It exited with ${child.exitCode}`);
    return (await fetch(url)).ok || undefined;
  }, 60_000);
}

/** A port of the loopback that nothing listens on now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  await new Promise((r) => server.close(r));
  if (!address || typeof address === "string") throw new Error("No port");
  return address.port;
}

/** Which code a started process runs: the sources through tsx (the tests), or the compiled dist/
 * (the benchmark, as production runs it: tsx's loader alone doubles a process's memory). */
export type Build = "source" | "dist";

/** node's arguments to run `entry` (e.g. "operator/main") of this checkout. */
export function nodeArgs(entry: string, build: Build): string[] {
  return build === "dist" ? [`dist/${entry}.js`] : ["--import", "tsx", `${entry}.ts`];
}

/** V8's old-space limit of the controller and the API, the chart's default (`heapLimitMiB`;
 * test/chart.test.ts holds them equal): the tests and make scale run them as installed. */
export const HEAP_LIMIT_MIB = 384;

/** node's arguments to run the controller or the API (`entry`) as the chart runs it. */
export function serverNodeArgs(entry: string, build: Build): string[] {
  return [`--max-old-space-size=${HEAP_LIMIT_MIB}`, ...nodeArgs(entry, build)];
}

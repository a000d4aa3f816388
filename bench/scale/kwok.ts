// The simulated nodes of `make scale`: kwok (built by cluster/lib/kwok.sh) as a process of this
// host against the cluster's apiserver, playing the kubelet of the fake nodes made here, and
// everything taken away again.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { openSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { CoordinationV1Api, CoreV1Api, type KubeConfig, type V1Node } from "@kubernetes/client-node";
import { statusCode } from "../../core/kube.js";
import { runBatch } from "../load.js";
import { SCALE_NODE_SELECTOR, SCALE_TAINT, fakeNode, fakeNodeNames } from "./fakeNodes.js";

const STAGES = "bench/scale/kwok.yaml";
/** How long a fake node's Lease lasts; kwok renews it at a quarter of that, as a kubelet does. */
const LEASE_SECONDS = 40;
/** How long the fake nodes may take to be ready: the node lifecycle controller lifts each one's
 * not-ready taint within kube-controller-manager's 20 requests a second (its default --kube-api-qps),
 * shared with its other controllers: 100 nodes took 21.8 s here, 1 000 took 227 s. */
export const readyTimeoutMs = (count: number) => Math.max(120_000, count * 500);

/** The kwok binary, built on first use (cluster/lib/kwok.sh prints its path). */
export function kwokBinary(): string {
  return execFileSync("cluster/lib/kwok.sh", { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
}

/** Starts kwok on the fake nodes (by their label), with its output appended to `logPath`. In a
 * process group of its own: Ctrl-C in a terminal signals the whole foreground group, and kwok must
 * outlive it long enough to end the pods left on its nodes while the harness cleans up. */
export function startKwok(kubeconfig: string, logPath: string): ChildProcess {
  const log = openSync(logPath, "a");
  return spawn(kwokBinary(), [
    "--kubeconfig", kubeconfig, "--config", STAGES,
    "--manage-nodes-with-label-selector", SCALE_NODE_SELECTOR,
    "--node-lease-duration-seconds", String(LEASE_SECONDS),
    // At INFO it logs a line per pod and stage: thousands a minute, CPU that would count as kwok's.
    "--v", "WARN",
  ], { stdio: ["ignore", log, log], detached: true });
}

export async function stopKwok(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

/** Ready and schedulable: the Stage has run and the node lifecycle controller has lifted its
 * not-ready taint (only the scale taint is left). */
export function nodeReady(node: V1Node): boolean {
  const ready = node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
  const taints = node.spec?.taints ?? [];
  return ready && taints.every((t) => t.key === SCALE_TAINT.key);
}

/** Creates `count` fake nodes and waits until kwok has made every one ready; the names. */
export async function createFakeNodes(kc: KubeConfig, count: number, kwok: ChildProcess): Promise<string[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const names = fakeNodeNames(count);
  let next = 0;
  await runBatch(count, 10, () => core.createNode({ body: fakeNode(names[next++]!) }));
  const timeoutMs = readyTimeoutMs(count);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (kwok.exitCode !== null) throw new Error(`kwok exited with ${kwok.exitCode} before the fake nodes were ready`);
    const nodes = (await core.listNode({ labelSelector: SCALE_NODE_SELECTOR })).items;
    const ready = nodes.filter(nodeReady).length;
    if (ready === count) return names;
    if (Date.now() > deadline) throw new Error(`Only ${ready} of ${count} fake nodes were ready after ${timeoutMs / 1000} s`);
    await sleep(500);
  }
}

/** Deletes every fake node (whoever made it) and its Lease. */
export async function deleteFakeNodes(kc: KubeConfig): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const leases = kc.makeApiClient(CoordinationV1Api);
  const nodes = (await core.listNode({ labelSelector: SCALE_NODE_SELECTOR })).items.map((n) => n.metadata?.name ?? "");
  await core.deleteCollectionNode({ labelSelector: SCALE_NODE_SELECTOR });
  await Promise.all(nodes.map((name) => leases.deleteNamespacedLease({ name, namespace: "kube-node-lease" }).catch((err: unknown) => {
    if (statusCode(err) !== 404) throw err;
  })));
}

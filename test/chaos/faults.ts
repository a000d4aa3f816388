// The faults the chaos scenarios inject into the local cluster (cluster/up.sh's, whose components
// are host processes with a pid file each): stopping a component and starting it again, and
// killing a runner container under the kubelet's feet through containerd.
import { execFile, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const STATE_DIR = process.env.SCRIPTRUN_CLUSTER_DIR ?? "/var/lib/scriptrun-cluster";
const CONTAINERD_SOCK = `${STATE_DIR}/run/containerd/containerd.sock`;
const STOP_TIMEOUT_MS = 30_000;
const RESTART_TIMEOUT_MS = 180_000;

/** The cluster components a scenario may stop. */
export type Component = "kube-apiserver" | "etcd" | "kubelet" | "containerd";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The component's running process, from cluster/up.sh's pid file. */
export function componentPid(component: Component): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(`${STATE_DIR}/run/${component}.pid`, "utf8").trim());
  } catch {
    return undefined;
  }
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}

async function exited(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** Stops the component as `make down` does (SIGTERM, SIGKILL if it lingers); resolves once it is gone. */
export async function stopComponent(component: Component): Promise<void> {
  const pid = componentPid(component);
  if (pid === undefined) throw new Error(`${component} is not running: nothing to stop`);
  process.kill(pid, "SIGTERM");
  if (await exited(pid, STOP_TIMEOUT_MS)) return;
  process.kill(pid, "SIGKILL");
  await exited(pid, STOP_TIMEOUT_MS);
}

export interface Restart {
  /** When the component's new process was first seen alive (ms). */
  back: Promise<number>;
  /** cluster/up.sh finished: the whole cluster is ready again. */
  done: Promise<void>;
}

/**
 * Starts what is stopped again with cluster/up.sh (idempotent: it starts only the components that
 * do not run, then waits for the apiserver and the node to be ready), its output appended to `log`.
 */
export function restartCluster(component: Component, log: string): Restart {
  const out = openSync(log, "a");
  const child = spawn("bash", [`${repo}/cluster/up.sh`], { cwd: repo, stdio: ["ignore", out, out] });
  closeSync(out);
  const done = new Promise<void>((ok, fail) => {
    child.once("error", fail);
    child.once("exit", (code) => (code === 0 ? ok() : fail(new Error(`cluster/up.sh exited with ${code}; log: ${log}`))));
  });
  const back = (async () => {
    const deadline = Date.now() + RESTART_TIMEOUT_MS;
    while (componentPid(component) === undefined) {
      if (Date.now() > deadline) throw new Error(`${component} did not start again within ${RESTART_TIMEOUT_MS} ms; log: ${log}`);
      await sleep(50);
    }
    return Date.now();
  })();
  // Whichever the caller awaits, neither rejects unobserved.
  back.catch(() => undefined);
  done.catch(() => undefined);
  return { back, done };
}

/** SIGKILLs a container's first process through containerd (`ctr tasks kill`; the kernel then
 * kills the rest of its pid namespace), as the node's own trouble would: the kubelet only finds
 * out afterwards. `containerId` as a pod's status gives it. */
export async function killContainer(containerId: string): Promise<void> {
  const id = containerId.replace(/^containerd:\/\//, "");
  await promisify(execFile)("ctr", ["--address", CONTAINERD_SOCK, "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", id]);
}

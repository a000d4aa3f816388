// What the figures were measured on: the machine, and the version of everything on the path
// (the cluster's components as the node reports them, the pinned ones from cluster/versions.env).
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { promisify } from "node:util";
import { CoreV1Api, type KubeConfig, VersionApi } from "@kubernetes/client-node";
import { HOST_PYTHON } from "./paths.js";

const run = promisify(execFile);

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  os: string;
}

/** `KEY=value` lines of an env file, comments skipped. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^\s*([A-Z0-9_]+)=(.*?)\s*$/.exec(line);
    if (match) out[match[1]!] = match[2]!.replace(/^["']|["']$/g, "");
  }
  return out;
}

/** The first line a command prints, or undefined when it cannot run. */
async function firstLine(command: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await run(command, args, { timeout: 10_000 });
    return (stdout || stderr).split("\n")[0]?.trim() || undefined;
  } catch {
    return undefined;
  }
}

export function machine(): Machine {
  const osRelease = parseEnvFile(readFileSync("/etc/os-release", "utf8"));
  return {
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: release(),
    os: osRelease.PRETTY_NAME ?? "unknown",
  };
}

export async function versions(kc: KubeConfig): Promise<Record<string, string>> {
  const pinned = parseEnvFile(readFileSync("cluster/versions.env", "utf8"));
  const server = await kc.makeApiClient(VersionApi).getCode();
  const node = (await kc.makeApiClient(CoreV1Api).listNode()).items[0]?.status?.nodeInfo;
  const [python, runc, commit] = await Promise.all([
    firstLine(HOST_PYTHON, ["--version"]),
    firstLine("runc", ["--version"]),
    firstLine("git", ["rev-parse", "--short", "HEAD"]),
  ]);
  return {
    kubernetes: server.gitVersion,
    kubelet: node?.kubeletVersion ?? "unknown",
    containerRuntime: node?.containerRuntimeVersion ?? "unknown",
    runc: runc?.replace(/^runc version\s*/, "") ?? "unknown",
    etcd: pinned.ETCD_VERSION ?? "unknown",
    node: process.version,
    python: python?.replace(/^Python\s*/, "") ?? "unknown",
    imageSuite: pinned.IMAGE_SUITE ?? "unknown",
    commit: commit ?? "unknown",
  };
}

// CPU time from /proc: of a process with its descendants (the controller's and the API's preflight
// servers are Python children of theirs), and each one's share of a window of the machine's busy
// CPU (bench/warm.ts hostBusyMs).
import { readFileSync, readdirSync } from "node:fs";
import { basename } from "node:path";
import { MS_PER_TICK, type Proc, parseProcStat } from "../cpuAccount.js";

function pids(): number[] {
  return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number);
}

function statOf(pid: number): Proc | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined; // it ended meanwhile
  }
}

/** CPU milliseconds of `root` and every live descendant. A descendant that ended since is counted
 * in its parent's cutime once reaped, so differences of this over a window are what the tree used. */
export function treeCpuMs(root: number): number {
  const stats = new Map<number, Proc>();
  for (const pid of pids()) {
    const stat = statOf(pid);
    if (stat) stats.set(pid, stat);
  }
  const inTree = new Set([root]);
  let ticks = 0;
  // Parents have lower pids than their children unless pids wrapped: repeat until nothing is added.
  for (let added = true; added;) {
    added = false;
    for (const [pid, stat] of stats) {
      if (!inTree.has(pid) && inTree.has(stat.ppid)) {
        inTree.add(pid);
        added = true;
      }
    }
  }
  // Each one's own CPU and that of the children it reaped.
  for (const pid of inTree) ticks += (stats.get(pid)?.cpu ?? 0) + (stats.get(pid)?.children ?? 0);
  return ticks * MS_PER_TICK;
}

/** The pid of the one process whose program (argv[0], without its directory) is `program`. */
export function pidOf(program: string): number {
  const found = pids().filter((pid) => {
    try {
      const argv0 = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] ?? "";
      return basename(argv0) === program;
    } catch {
      return false;
    }
  });
  if (found.length !== 1) throw new Error(`Expected one ${program} process, found ${found.length}`);
  return found[0]!;
}

export interface CpuUse {
  ms: number;
  /** Of the machine's busy CPU over the window (0–1). */
  share: number;
}

/** Each process's CPU over a window from readings at its start and end, with "other": the
 * machine's busy CPU that none of them used (kubelet, containerd, the kernel, the rest). */
export function cpuUse(before: Record<string, number>, after: Record<string, number>, hostBusy: number): Record<string, CpuUse> {
  const out: Record<string, CpuUse> = {};
  let counted = 0;
  for (const name of Object.keys(before)) {
    const ms = Math.max(0, (after[name] ?? 0) - before[name]!);
    counted += ms;
    out[name] = { ms, share: hostBusy > 0 ? ms / hostBusy : 0 };
  }
  const other = Math.max(0, hostBusy - counted);
  out.other = { ms: other, share: hostBusy > 0 ? other / hostBusy : 0 };
  return out;
}

// Where the node's CPU went during a window, by process: the cluster's daemons, the bench's
// controller and API, containerd's shims and runc, the pods, and the rest of the host. The cluster
// runs as host processes (cluster/up.sh), so /proc sees them all; they are found by the basename
// of their argv[0]. A process's CPU is utime+stime from /proc/PID/stat plus cutime+cstime: the
// children it reaped (the controller's and the API's preflight helpers, the kubelet's mounts,
// kube-proxy's iptables-restore, runc and the containers under a shim). Shims outlive their
// launcher and are reparented to PID 1, which reaps them where no /proc reading can see it: so
// the sampler reads every process every POLL_MS and keeps a dead orphan's last reading (what a
// shim does in its last POLL_MS is lost to the rest of the host).
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { basename } from "node:path";
import { statFile } from "./warm.js";

/** Each line of the account, in the order it is printed. */
export const COMPONENTS = [
  "controller", "api", "kube-apiserver", "etcd", "kube-scheduler", "kube-controller-manager", "kubelet", "kube-proxy",
  "containerd", "containerd-children", "shims", "bench",
] as const;
export type Component = (typeof COMPONENTS)[number];

/** Cluster daemons by the basename of argv[0]; any containerd-shim* is a shim. */
const BY_NAME: Record<string, Component> = {
  "kube-apiserver": "kube-apiserver", etcd: "etcd", "kube-scheduler": "kube-scheduler",
  "kube-controller-manager": "kube-controller-manager", kubelet: "kubelet", "kube-proxy": "kube-proxy", containerd: "containerd",
};
/** Where a component's children go: containerd's are the CNI plugins and the shims' launchers. */
const CHILDREN: Partial<Record<Component, Component>> = { containerd: "containerd-children" };
const childOf = (component: Component): Component => CHILDREN[component] ?? component;

/** USER_HZ: /proc counts CPU time in ticks of 10 ms on Linux. */
export const MS_PER_TICK = 10;
const POLL_MS = 100;

export interface Proc {
  pid: number;
  ppid: number;
  /** utime + stime, and cutime + cstime (reaped children), in ticks. */
  cpu: number;
  children: number;
  /** Start time since boot, in ticks: with the pid, names one process across pid reuse. */
  start: number;
}

/** One line of /proc/PID/stat. The command name may hold spaces and parentheses: the fields
 * after it start after the last ')'. */
export function parseProcStat(line: string): Proc {
  const close = line.lastIndexOf(")");
  const fields = line.slice(close + 2).trim().split(/\s+/).map(Number);
  // fields[0] is field 3 (state) of proc(5): ppid is 4, utime..cstime 14..17, starttime 22.
  const [ppid, utime, stime, cutime, cstime, start] = [fields[1], fields[11], fields[12], fields[13], fields[14], fields[19]];
  if (close < 0 || [ppid, utime, stime, cutime, cstime, start].some((n) => n === undefined || !Number.isFinite(n))) {
    throw new Error(`Unreadable /proc stat line '${line.slice(0, 120)}'`);
  }
  return { pid: Number.parseInt(line, 10), ppid: ppid!, cpu: utime! + stime!, children: cutime! + cstime!, start: start! };
}

export interface Tracked {
  /** Its reading when the window began, if it ran then; its latest reading. */
  initial?: Proc;
  last: Proc;
  /** Still there when the window ended. */
  alive: boolean;
  /** undefined: not counted (the rest of the host). */
  component: Component | undefined;
}

/** A process's line: its own pid or argv[0], else its parent's (or where its parent's children go). */
export function classify(pid: number, argv0: string, roots: Partial<Record<Component, number>>, parent: Component | undefined): Component | undefined {
  const root = (Object.entries(roots) as Array<[Component, number]>).find(([, p]) => p === pid);
  if (root) return root[0];
  const name = basename(argv0);
  if (name.startsWith("containerd-shim")) return "shims";
  return BY_NAME[name] ?? (parent === undefined ? undefined : childOf(parent));
}

/** CPU milliseconds of each component over the window. A process that ended and was reaped by a
 * counted parent is in that parent's cutime, whole life included: it adds nothing of its own, and
 * what it had used before the window is taken off. One that ended with an uncounted parent (a shim,
 * reaped by PID 1) counts its last reading. */
export function attribute(tracked: readonly Tracked[]): Record<Component, number> {
  const ms = Object.fromEntries(COMPONENTS.map((c) => [c, 0])) as Record<Component, number>;
  const byPid = new Map<number, Tracked>();
  for (const t of [...tracked].sort((a, b) => a.last.start - b.last.start)) byPid.set(t.last.pid, t);
  for (const t of tracked) {
    if (t.component === undefined) continue;
    const parent = byPid.get(t.last.ppid);
    const before = { cpu: t.initial?.cpu ?? 0, children: t.initial?.children ?? 0 };
    if (!t.alive && parent?.component !== undefined) {
      ms[childOf(parent.component)] -= (before.cpu + before.children) * MS_PER_TICK;
      continue;
    }
    ms[t.component] += (t.last.cpu - before.cpu) * MS_PER_TICK;
    ms[childOf(t.component)] += (t.last.children - before.children) * MS_PER_TICK;
  }
  return ms;
}

/** The pods' CPU so far (ms): the kubepods cgroup, cgroup v1 (cpuacct) or v2 (cgroupfs or systemd driver). */
export function podsCpuMs(root = "/sys/fs/cgroup"): number | undefined {
  const v1 = `${root}/cpuacct/kubepods/cpuacct.usage`;
  if (existsSync(v1)) return Number(readFileSync(v1, "utf8")) / 1e6;
  const v2 = [`${root}/kubepods/cpu.stat`, `${root}/kubepods.slice/cpu.stat`].find(existsSync);
  return v2 === undefined ? undefined : (statFile(readFileSync(v2, "utf8")).usage_usec ?? 0) / 1000;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Reads every process at the start and the end of a window and the counted ones every POLL_MS between. */
export class ProcessSampler {
  private readonly tracked = new Map<string, Tracked>();
  /** The latest process seen with each pid. */
  private readonly byPid = new Map<number, Tracked>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly roots: Partial<Record<Component, number>>) {}

  start(): void {
    this.scan(true, true);
    this.timer = setInterval(() => this.scan(false, false), POLL_MS);
  }

  /** Ends the window: every process read once more, and each component's CPU in it. */
  stop(): Record<Component, number> {
    clearInterval(this.timer);
    this.scan(false, true);
    return attribute([...this.tracked.values()]);
  }

  /** New processes are classified (by pid, argv[0] or parent: parents first, as they started
   * first); counted ones read again. `all`: every process read, and those gone marked so. */
  private scan(initial: boolean, all: boolean): void {
    const fresh: Array<{ key: string; proc: Proc; entry: string }> = [];
    const seen = new Set<string>();
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      const text = read(`/proc/${entry}/stat`);
      if (text === undefined) continue;
      const proc = parseProcStat(text);
      const key = `${proc.pid}:${proc.start}`;
      seen.add(key);
      const known = this.tracked.get(key);
      if (!known) fresh.push({ key, proc, entry });
      else if (all || known.component !== undefined) known.last = proc;
    }
    for (const { key, proc, entry } of fresh.sort((a, b) => a.proc.start - b.proc.start)) {
      const argv0 = (read(`/proc/${entry}/cmdline`) ?? "").split("\0")[0] ?? "";
      const t: Tracked = { ...(initial ? { initial: proc } : {}), last: proc, alive: true,
        component: classify(proc.pid, argv0, this.roots, this.byPid.get(proc.ppid)?.component) };
      this.tracked.set(key, t);
      this.byPid.set(proc.pid, t);
    }
    if (all) for (const [key, t] of this.tracked) t.alive = seen.has(key);
  }
}

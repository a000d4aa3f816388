import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Proc, type Tracked, attribute, classify, parseProcStat, podsCpuMs } from "./cpuAccount.js";

// proc(5) fields 1..22: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt
// cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime, then more.
const statLine = (pid: number, comm: string, ppid: number, [utime, stime, cutime, cstime]: number[], start: number) =>
  `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1 4194560 100 0 0 0 ${utime} ${stime} ${cutime} ${cstime} 20 0 12 0 ${start} 1000 200 0`;

const proc = (pid: number, ppid: number, cpu: number, children = 0, start = pid): Proc => ({ pid, ppid, cpu, children, start });

describe("the per-process CPU account", () => {
  it("reads a /proc stat line, a command name with spaces and parentheses included", () => {
    assert.deepEqual(parseProcStat(statLine(4242, "kube (apiserver) x", 1, [300, 120, 7, 3], 55_000)),
      { pid: 4242, ppid: 1, cpu: 420, children: 10, start: 55_000 });
    assert.throws(() => parseProcStat("4242 (cut"), /Unreadable/);
  });

  it("finds a process by its pid, then by argv[0], then by its parent", () => {
    const roots = { controller: 100, bench: 50 };
    assert.equal(classify(100, "/usr/bin/node", roots, "bench"), "controller");
    assert.equal(classify(7, "/root/.cache/scriptrun/bin/k8s/kube-apiserver", roots, undefined), "kube-apiserver");
    assert.equal(classify(8, "/usr/bin/containerd-shim-runc-v2", roots, "containerd"), "shims");
    assert.equal(classify(9, "/opt/cni/bin/bridge", roots, "containerd"), "containerd-children");
    assert.equal(classify(10, "python3", roots, "controller"), "controller");
    assert.equal(classify(11, "go", roots, undefined), undefined);
  });

  it("counts what each process used in the window, and what the children it reaped used", () => {
    const tracked: Tracked[] = [
      { initial: proc(7, 1, 1000, 50), last: proc(7, 1, 1300, 60), alive: true, component: "kube-apiserver" },
      { initial: proc(20, 1, 500, 0), last: proc(20, 1, 540, 90), alive: true, component: "containerd" },
      { last: proc(21, 20, 4), alive: true, component: "containerd-children" },
      { initial: proc(30, 1, 8, 0), last: proc(30, 1, 9, 0), alive: true, component: undefined },
    ];
    const ms = attribute(tracked);
    assert.equal(ms["kube-apiserver"], 3100);
    assert.equal(ms.containerd, 400);
    assert.equal(ms["containerd-children"], 900 + 40);
    assert.equal(Object.values(ms).reduce((a, b) => a + b, 0), 3100 + 400 + 940);
  });

  it("takes off what a child reaped by a counted parent used before the window, as the parent's cutime has its whole life", () => {
    const ms = attribute([
      { initial: proc(100, 50, 200, 0), last: proc(100, 50, 260, 35), alive: true, component: "controller" },
      // A preflight helper that ran 30 ticks before the window and 5 in it, then was reaped: 35 in the parent's cutime.
      { initial: proc(101, 100, 30, 0), last: proc(101, 100, 35, 0), alive: false, component: "controller" },
    ]);
    assert.equal(ms.controller, (60 + 35 - 30) * 10);
  });

  it("keeps the last reading of an orphan that ended unseen (a shim, reaped by PID 1)", () => {
    const ms = attribute([
      { initial: proc(1, 0, 9000), last: proc(1, 0, 9100, 5000), alive: true, component: undefined },
      { initial: proc(300, 1, 10, 100), last: proc(300, 1, 14, 180), alive: false, component: "shims" },
      { last: proc(301, 1, 6, 40), alive: false, component: "shims" },
      // The container's process under a shim, reaped by it: in the shim's cutime already.
      { last: proc(302, 301, 30), alive: false, component: "shims" },
    ]);
    assert.equal(ms.shims, (4 + 80 + 6 + 40) * 10);
  });

  it("reads the pods' CPU from the kubepods cgroup, v1 or v2", () => {
    const v1 = mkdtempSync(join(tmpdir(), "cgroup-v1-"));
    mkdirSync(join(v1, "cpuacct/kubepods"), { recursive: true });
    writeFileSync(join(v1, "cpuacct/kubepods/cpuacct.usage"), "2500000000\n");
    assert.equal(podsCpuMs(v1), 2500);
    const v2 = mkdtempSync(join(tmpdir(), "cgroup-v2-"));
    mkdirSync(join(v2, "kubepods.slice"));
    writeFileSync(join(v2, "kubepods.slice/cpu.stat"), "usage_usec 1234000\nuser_usec 1000000\nsystem_usec 234000\n");
    assert.equal(podsCpuMs(v2), 1234);
    assert.equal(podsCpuMs(mkdtempSync(join(tmpdir(), "no-cgroup-"))), undefined);
  });
});

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { cpuUse, pidOf, treeCpuMs } from "./cpu.js";

describe("CPU time from /proc", () => {
  it("finds a process by its program's name, and only one", async () => {
    const child = spawn("sleep", ["30"], { argv0: "scale-test-sleeper", stdio: "ignore" });
    try {
      await once(child, "spawn");
      assert.equal(pidOf("scale-test-sleeper"), child.pid);
      assert.throws(() => pidOf("no-such-program-here"), /found 0/);
    } finally {
      child.kill();
    }
  });

  it("counts a process's descendants with it", async () => {
    // A shell (which stays, for the `true` after) whose child burns about 300 ms of CPU and stays.
    const burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\nprint(1, flush=True)\ntime.sleep(30)";
    const shell = spawn("sh", ["-c", `python3 -c '${burn}'; true`], { stdio: ["ignore", "pipe", "inherit"], detached: true });
    try {
      await once(shell.stdout, "data");
      assert.ok(treeCpuMs(shell.pid!) >= 250, `${treeCpuMs(shell.pid!)} ms`);
    } finally {
      process.kill(-shell.pid!); // the shell's process group: it and its child
    }
  });

  it("shares a window's busy CPU among the processes, the rest as other", () => {
    const use = cpuUse({ a: 100, b: 0 }, { a: 400, b: 100 }, 1000);
    assert.deepEqual(use, { a: { ms: 300, share: 0.3 }, b: { ms: 100, share: 0.1 }, other: { ms: 600, share: 0.6 } });
  });
});

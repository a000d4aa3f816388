import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { peakRssDuring, rssMiB } from "./processes.js";

// Touches 200 MiB page by page (so it is resident), frees it, says so, and idles.
const PEAKED = "x = bytearray(200 << 20)\nfor i in range(0, len(x), 4096): x[i] = 1\ndel x\nprint('freed', flush=True)\n" +
  "import time\ntime.sleep(60)\n";

describe("a process's peak memory during some work", () => {
  it("is the peak of that work alone, not of what the process did before", async () => {
    const child = spawn("python3", ["-c", PEAKED], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      await once(child.stdout, "data");
      assert.ok(rssMiB(child.pid!, "VmHWM") >= 200, "the child's lifetime peak holds its 200 MiB");
      const { result, peakMiB } = await peakRssDuring({ child: child.pid! }, async () => "done");
      assert.equal(result, "done");
      assert.ok(peakMiB.child < 100, `peak during the work: ${peakMiB.child} MiB`);
    } finally {
      child.kill();
    }
  });
});

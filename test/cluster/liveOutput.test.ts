// Live output on the real cluster: a script's prints reach the API's event stream while it runs,
// from the runner pod's log, on a cold pod and on a warm one; a reconnect with Last-Event-ID gets
// the rest and nothing twice.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { RUNTIMES } from "../../core/runtimeCatalog.js";
import { type ApiProcess, type StreamEvent, readEvents, startApi } from "./api.js";
import { getRun, startController, stopController } from "./controller.js";
import { createNamespace, custom, defaultRuntime, deleteNamespace, eventually } from "./kube.js";

const TICKER = "import sys, time\nfor i in range(4):\n    print(f'tick {i}', flush=True)\n    time.sleep(1)\n"
  + "sys.stderr.write('done\\n')\n";
const ALL = "tick 0\ntick 1\ntick 2\ntick 3\n";

describe("live output on the real cluster", function () {
  this.timeout(300_000);
  let namespace: string;
  let runtime: string;
  let controller: ChildProcess;
  let api: ApiProcess;

  before(async () => {
    namespace = await createNamespace("live");
    runtime = `${namespace}-warm`;
    const { spec } = await defaultRuntime();
    const { warmPool: _none, ...rest } = spec;
    await custom.createClusterCustomObject({
      ...RUNTIMES,
      body: { apiVersion: "scriptrun.dev/v1alpha1", kind: "ScriptRuntime", metadata: { name: runtime },
        spec: { ...rest, warmPool: { size: 1, namespaces: [namespace] } } },
    });
    controller = startController(namespace);
    api = await startApi({ SCRIPTRUN_API_NAMESPACE: namespace, SCRIPTRUN_API_MAX_WAIT_SECONDS: "300" });
  });
  after(async () => {
    if (api) await stopController(api.child);
    if (controller) await stopController(controller);
    await custom.deleteClusterCustomObject({ ...RUNTIMES, name: runtime }).catch(() => undefined);
    await deleteNamespace(namespace);
  });

  for (const start of ["cold", "warm"] as const) {
    it(`streams a ${start} run's prints as they come, then the rest, and resumes after Last-Event-ID`, async () => {
      if (start === "warm") {
        await eventually("a ready warm pod", async () => {
          const got = await custom.getClusterCustomObject({ ...RUNTIMES, name: runtime }) as { status?: { warm?: string } };
          return got.status?.warm === "1/1" ? true : undefined;
        }, 120_000);
      }
      // A cold run: other memory than the runtime's default, which its warm pods have.
      const body = start === "warm" ? { runtime, mode: "script", script: TICKER }
        : { runtime, mode: "script", script: TICKER, resources: { memory: "192Mi" } };
      const created = await fetch(`${api.url}/runs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      assert.equal(created.status, 202);
      const { name } = await created.json() as { name: string };
      const seen = await readEvents(api, `/runs/${name}/events`, "finished");
      const finished = seen.at(-1)!;
      assert.equal(finished.event, "finished");
      assert.equal(finished.data.success, true, JSON.stringify(finished.data));
      assert.equal((await getRun(namespace, name)).status?.start, start);

      const output = seen.filter((e) => e.event === "output");
      const text = (stream: string, from: StreamEvent[]) => from.filter((e) => e.data.stream === stream).map((e) => e.data.text).join("");
      assert.equal(text("stdout", output), ALL);
      assert.equal(text("stderr", output), "done\n");
      const early = output.filter((e) => finished.at - e.at > 1500);
      assert.ok(early.length >= 2, `prints arrived live: ${output.map((e) => `${JSON.stringify(e.data.text)} ${Math.round(finished.at - e.at)} ms before the end`).join(", ")}`);

      const first = output[0]!;
      const resumed = (await readEvents(api, `/runs/${name}/events`, "finished", first.id)).filter((e) => e.event === "output");
      assert.equal(text("stdout", [first, ...resumed]), ALL);
      assert.equal(text("stderr", resumed), "done\n");
    });
  }
});

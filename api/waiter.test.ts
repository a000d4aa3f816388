// The waiter: every waiting request on one shared watch, waits that cannot miss their run, and a
// shutdown that lets the waits in flight answer.
import assert from "node:assert/strict";
import { silentLogger } from "../core/log.js";
import { API_VERSION, KIND, type ScriptRun } from "../crds/schema.js";
import { FakeRunStore, runCopy, testApp } from "./testkit.js";
import { Waiter } from "./waiter.js";

const aRun = (name: string): ScriptRun => ({ apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace: "default" }, spec: { script: "x = 1\n" } });

describe("the waiter", () => {
  it("answers two hundred concurrent executions through one watch", async function () {
    this.timeout(10_000);
    const t = testApp();
    try {
      const answers = await Promise.all(Array.from({ length: 200 }, (_, i) =>
        t.http.post("/execute").send({ script: `def main():\n    return ${i}\n` })));
      assert.deepEqual(new Set(answers.map((r) => r.status)), new Set([200]));
      assert.equal(new Set(answers.map((r) => r.body.name)).size, 200);
      assert.equal(t.store.watchesStarted, 1);
      assert.equal(t.waiter.inFlight, 0);
    } finally {
      await t.close();
    }
  });

  it("keeps waiting when a re-check finds no run before it was created", async () => {
    const store = new FakeRunStore();
    const waiter = new Waiter(store, { maxWaits: 5, recheckMs: 60_000, log: silentLogger() });
    waiter.start();
    try {
      const wait = waiter.waitFor("default", "run-late", 2000, new AbortController().signal);
      store.resync();
      await new Promise((r) => setTimeout(r, 20));
      wait.follows(await store.create(aRun("run-late")) as ScriptRun);
      const result = await wait.result;
      assert.equal(result.kind, "finished");
    } finally {
      await waiter.stop();
    }
  });

  describe("a run made again under the same name", () => {
    let store: FakeRunStore;
    let waiter: Waiter;
    beforeEach(() => {
      store = new FakeRunStore();
      waiter = new Waiter(store, { maxWaits: 5, recheckMs: 60_000, log: silentLogger() });
    });

    it("passes over the earlier copy's outcome and deletion, told late, and answers with its own", async () => {
      const wait = waiter.waitFor("default", "run-k", 2000, new AbortController().signal);
      // The watch lags: it tells the earlier copy's last change and its deletion after the create.
      waiter.changed(runCopy("uid-earlier", 0, "Running"));
      waiter.deleted(runCopy("uid-earlier", 0, "Running"));
      wait.follows(runCopy("uid-own", 5, "Running"));
      waiter.changed(runCopy("uid-earlier", 0, "Succeeded"));
      waiter.deleted(runCopy("uid-earlier", 0, "Succeeded"));
      waiter.changed(runCopy("uid-own", 5, "Succeeded"));
      const result = await wait.result;
      assert.equal(result.kind, "finished");
      assert.equal(result.kind === "finished" && result.run.metadata.uid, "uid-own");
    });

    it("answers with its own copy's outcome, never an earlier copy's, when either is told before it knew which copy was its own", async () => {
      const earlierFirst = waiter.waitFor("default", "run-k", 2000, new AbortController().signal);
      // The watch lags: it tells the earlier copy's outcome while the create is under way.
      waiter.changed(runCopy("uid-earlier", 0, "Succeeded"));
      earlierFirst.follows(runCopy("uid-own", 5, "Running"));
      waiter.changed(runCopy("uid-own", 5, "Succeeded"));
      const first = await earlierFirst.result;
      assert.equal(first.kind === "finished" && first.run.metadata.uid, "uid-own");
      const ownToo = waiter.waitFor("default", "run-k", 2000, new AbortController().signal);
      // The run finished before the create's answer came.
      waiter.changed(runCopy("uid-earlier", 0, "Succeeded"));
      waiter.changed(runCopy("uid-own", 5, "Succeeded"));
      ownToo.follows(runCopy("uid-own", 5, "Running"));
      const second = await ownToo.result;
      assert.equal(second.kind === "finished" && second.run.metadata.uid, "uid-own");
    });

    it("ends on its own copy's deletion, told before or after it knew which copy was its own", async () => {
      const before = waiter.waitFor("default", "run-k", 2000, new AbortController().signal);
      waiter.changed(runCopy("uid-own", 5, "Running"));
      waiter.deleted(runCopy("uid-own", 5, "Running"));
      before.follows(runCopy("uid-own", 5, "Running"));
      assert.equal((await before.result).kind, "deleted");
      const after = waiter.waitFor("default", "run-k", 2000, new AbortController().signal);
      after.follows(runCopy("uid-own", 5, "Running"));
      waiter.changed(runCopy("uid-own", 5, "Running"));
      waiter.deleted(runCopy("uid-own", 5, "Running"));
      assert.equal((await after.result).kind, "deleted");
    });

    it("keeps waiting when a re-check's answer of no run comes after the watch told the run", async () => {
      waiter.start();
      try {
        let answer!: () => void;
        store.get = () => new Promise((resolve) => { answer = () => resolve(undefined); });
        const wait = waiter.waitFor("default", "run-k", 2000, new AbortController().signal);
        // The watch came back: its re-check asks before the run is created, and answers after.
        waiter.resynced();
        wait.follows(runCopy("uid-own", 5, "Running"));
        waiter.changed(runCopy("uid-own", 5, "Running"));
        answer();
        await new Promise((resolve) => setTimeout(resolve, 10));
        waiter.changed(runCopy("uid-own", 5, "Succeeded"));
        assert.equal((await wait.result).kind, "finished");
      } finally {
        await waiter.stop();
      }
    });

    it("follows a copy made after its own, while the watch was away, to that copy's deletion, even in the same second", async () => {
      waiter.start();
      try {
        for (const laterAt of [9, 5]) {
          const wait = waiter.waitFor("default", "run-k", 2000, new AbortController().signal);
          // A retry found its run; then, unseen, another deleted it and made it again.
          wait.exists();
          wait.follows(runCopy("uid-own", 5, "Running"));
          store.runs.set("default/run-k", runCopy("uid-later", laterAt, "Running"));
          // The watch comes back: its list shows the later copy, and its re-check finds it.
          waiter.changed(runCopy("uid-later", laterAt, "Running"));
          waiter.resynced();
          await new Promise((resolve) => setTimeout(resolve, 10));
          store.runs.delete("default/run-k");
          waiter.deleted(runCopy("uid-later", laterAt, "Running"));
          assert.equal((await wait.result).kind, "deleted", `a copy made at second ${laterAt}`);
        }
      } finally {
        await waiter.stop();
      }
    });
  });

  it("fetches no awaited run again while the watch tells changes, and does once it falls silent", async function () {
    this.timeout(5000);
    const store = new FakeRunStore();
    store.outcome = () => undefined;
    const gets: string[] = [];
    const get = store.get.bind(store);
    store.get = (namespace, name) => {
      gets.push(name);
      return get(namespace, name);
    };
    const waiter = new Waiter(store, { maxWaits: 5, recheckMs: 250, log: silentLogger() });
    waiter.start();
    const stop = new AbortController();
    try {
      const awaited = await store.create(aRun("run-awaited")) as ScriptRun;
      await store.create(aRun("run-busy"));
      const wait = waiter.waitFor("default", "run-awaited", 3000, stop.signal);
      wait.follows(awaited);
      // Another run changes every 25 ms: the watch is running, so 4 intervals pass with no GET.
      let ticks = 0;
      const busy = setInterval(() => store.setStatus("default", "run-busy", { phase: "Running", stdout: String(ticks++) }), 25);
      await new Promise((r) => setTimeout(r, 1000));
      clearInterval(busy);
      assert.deepEqual(gets, []);
      // The awaited run ends unseen, and the watch tells nothing more: the re-check finds it.
      store.setStatus("default", "run-awaited", { phase: "Succeeded", result: 1 }, true);
      const result = await wait.result;
      assert.equal(result.kind, "finished");
      assert.deepEqual(gets, ["run-awaited"]);
    } finally {
      stop.abort();
      await waiter.stop();
    }
  });

  it("on shutdown refuses new waits and resolves once the waits in flight have ended", async () => {
    const store = new FakeRunStore();
    const waiter = new Waiter(store, { maxWaits: 5, recheckMs: 60_000, log: silentLogger() });
    waiter.start();
    try {
      const release = waiter.reserve();
      const drained = waiter.drain(5000);
      assert.throws(() => waiter.reserve(), /shutting down/);
      setTimeout(release, 50);
      assert.equal(await drained, true);
    } finally {
      await waiter.stop();
    }
  });

  it("gives up draining after the grace period", async () => {
    const waiter = new Waiter(new FakeRunStore(), { maxWaits: 5, recheckMs: 60_000, log: silentLogger() });
    waiter.reserve();
    assert.equal(await waiter.drain(50), false);
    assert.equal(waiter.inFlight, 1);
  });
});

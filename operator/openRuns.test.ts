import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { keyOf } from "../core/runs.js";
import type { ScriptRun } from "../crds/schema.js";
import { OpenRuns } from "./openRuns.js";
import { aPod, aRun, testConfig } from "./testkit.js";

describe("the open runs", () => {
  function setup() {
    const runs = new Map<string, ScriptRun>();
    const pods: V1Pod[] = [];
    const open = new OpenRuns({ get: (name, namespace) => runs.get(`${namespace}/${name}`) }, { list: () => pods });
    /** The informer's order: the cache holds the object, then the handler hears of it. */
    const put = (run: ScriptRun) => {
      runs.set(keyOf(run), run);
      open.changed(run);
    };
    const remove = (run: ScriptRun) => {
      runs.delete(keyOf(run));
      open.deleted(run);
    };
    const names = () => open.list().map((run) => run.metadata.name).sort();
    return { runs, pods, open, put, remove, names };
  }
  const finished = (run: ScriptRun): ScriptRun => ({ ...run, status: { phase: "Succeeded" } });

  it("holds the unfinished runs and drops each as it finishes", () => {
    const { put, names } = setup();
    const a = aRun("a");
    put(a);
    put(aRun("b"));
    assert.deepEqual(names(), ["a", "b"]);
    put(finished(a));
    assert.deepEqual(names(), ["b"]);
  });

  it("holds a finished run while the cache still has its pod", () => {
    const { put, pods, names } = setup();
    const a = aRun("a");
    put(finished(a));
    pods.push(aPod(a, testConfig()));
    assert.deepEqual(names(), ["a"]);
    pods.pop();
    assert.deepEqual(names(), []);
  });

  it("keeps a run of the same name created before the old one's deletion was heard", () => {
    const { put, runs, open, names } = setup();
    const old = aRun("a");
    put(old);
    const again = aRun("a");
    put(again);
    open.deleted(old);
    assert.deepEqual(open.list(), [again]);
    runs.clear();
    open.deleted(again);
    assert.deepEqual(names(), []);
  });

  it("forgets a deleted run that never finished", () => {
    const { put, remove, names } = setup();
    const a = aRun("a");
    put(a);
    remove(a);
    assert.deepEqual(names(), []);
  });
});

import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { PodTimeline, RunTimeline } from "./watch.js";

const pod = (owner: string | undefined, state?: "running" | "terminated"): V1Pod => ({
  metadata: { name: `${owner}-runner`, ...(owner ? { ownerReferences: [{ apiVersion: "v1", kind: "ScriptRun", name: owner, uid: "u" }] } : {}) },
  status: state ? { containerStatuses: [{ name: "runner", image: "i", imageID: "", ready: false, restartCount: 0,
    state: state === "running" ? { running: {} } : { terminated: { exitCode: 0 } } }] } : {},
});

describe("the pod timeline", () => {
  it("keeps when a run's pod was first seen and first seen finished, by its owner's name", () => {
    const timeline = new PodTimeline();
    timeline.record(pod("a"), 100);
    timeline.record(pod("a", "running"), 900);
    timeline.record(pod("a", "terminated"), 1500);
    timeline.record(pod("a", "terminated"), 1700);
    assert.deepEqual(timeline.of("a"), { created: 100, done: 1500 });
  });

  it("takes a pod first seen finished as created then too, and ignores pods nobody owns", () => {
    const timeline = new PodTimeline();
    timeline.record(pod("b", "terminated"), 50);
    timeline.record(pod(undefined), 10);
    assert.deepEqual(timeline.of("b"), { created: 50, done: 50 });
    assert.equal(timeline.of("undefined"), undefined);
  });
});

describe("the run timeline", () => {
  it("keeps when a run was first seen, first seen Running and first seen finished, and how it started", () => {
    const timeline = new RunTimeline();
    const run = (phase?: string, start?: string) => ({ metadata: { name: "r" }, status: { ...(phase ? { phase } : {}), ...(start ? { start } : {}) } });
    timeline.record(run(), 10);
    timeline.record(run("Running", "warm"), 40);
    timeline.record(run("Running", "warm"), 45);
    timeline.record(run("Succeeded", "warm"), 90);
    timeline.record(run("Succeeded", "warm"), 95);
    timeline.record({ metadata: {} }, 5);
    assert.deepEqual(timeline.of("r"), { created: 10, running: 40, finished: 90, start: "warm" });
  });
});

import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { PodTimeline } from "./watch.js";

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

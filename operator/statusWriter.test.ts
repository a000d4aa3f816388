import assert from "node:assert/strict";
import type { ScriptRunStatus } from "../crds/schema.js";
import type { StatusPatch } from "./kube.js";
import { StatusWriter } from "./statusWriter.js";
import { aRun } from "./testkit.js";

function recording(exists = true) {
  const patches: StatusPatch[] = [];
  return { patches, kube: { patchRunStatus: async (_ns: string, _name: string, patch: StatusPatch) => { patches.push(patch); return exists; } } };
}

const succeeded: ScriptRunStatus = { phase: "Succeeded", result: 1, finishedAt: "2025-06-01T12:00:05Z" };

describe("the status writer", () => {
  it("sends only what changed, as a merge patch, and nothing when nothing did", async () => {
    const { patches, kube } = recording();
    const writer = new StatusWriter(kube);
    const run = { ...aRun("a"), status: { phase: "Pending" as const, podName: "a-runner" } };
    assert.equal(await writer.write("default/a", run, { phase: "Running", podName: "a-runner" }), "written");
    assert.deepEqual(patches, [{ type: "merge", status: { phase: "Running" } }]);
    assert.equal(await writer.write("default/a", run, run.status), "unchanged");
    assert.equal(patches.length, 1);
  });

  it("replaces the status whole when the result carries null members, which a merge patch would delete", async () => {
    const { patches, kube } = recording();
    await new StatusWriter(kube).write("default/a", aRun("a"), { phase: "Succeeded", result: { a: null } });
    assert.equal(patches[0]?.type, "replace");
  });

  it("says gone when the run no longer exists", async () => {
    assert.equal(await new StatusWriter(recording(false).kube).write("default/a", aRun("a"), succeeded), "gone");
  });

  it("shows a final status it wrote until the cache has it, but not for another run of the same name", async () => {
    const writer = new StatusWriter(recording().kube);
    const run = aRun("a");
    await writer.write("default/a", run, succeeded);
    assert.deepEqual(writer.latest("default/a", run).status, succeeded, "a stale cache is overlaid");
    const successor = aRun("a");
    assert.equal(writer.latest("default/a", successor).status, undefined, "a new run of that name is not");
    assert.equal(writer.latest("default/a", run).status, undefined, "the memo of the old run was dropped");
  });

  it("forgets once the cache shows a finished status, or when told", async () => {
    const writer = new StatusWriter(recording().kube);
    const run = aRun("a");
    await writer.write("default/a", run, succeeded);
    const cached = { ...run, status: { ...succeeded, result: 2 } };
    assert.equal(writer.latest("default/a", cached).status?.result, 2);
    assert.equal(writer.latest("default/a", run).status, undefined);
    await writer.write("default/a", run, succeeded);
    writer.forget("default/a");
    assert.equal(writer.latest("default/a", run).status, undefined);
  });

  it("does not write a status again that the cache does not show yet, and forgets it once the cache does", async () => {
    const { patches, kube } = recording();
    const writer = new StatusWriter(kube);
    const run = aRun("a");
    await writer.write("default/a", run, { phase: "Running", podName: "a-runner" });
    const stale = writer.latest("default/a", run);
    assert.deepEqual(stale.status, { phase: "Running", podName: "a-runner" });
    assert.equal(await writer.write("default/a", stale, { phase: "Running", podName: "a-runner" }), "unchanged");
    assert.equal(patches.length, 1);
    const caughtUp = { ...run, status: { phase: "Running" as const, podName: "a-runner" } };
    assert.equal(writer.latest("default/a", caughtUp), caughtUp);
    assert.equal(writer.latest("default/a", run), run, "the memo went once the cache had it");
  });
});

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import { parse, parseAllDocuments } from "yaml";
import { parseTerminationMessage } from "../../core/envelope.js";
import { resolveRequest } from "../../core/request.js";
import { runtimeLimits } from "../../core/runtime.js";
import { RUNNER_CONTAINER } from "../../operator/names.js";
import { statusFromPod } from "../../operator/statusFromPod.js";
import { T0, aParsedRuntime, aPod, aRun, testConfig } from "../../operator/testkit.js";
import { HOST_PYTHON, RUNNER_PATH, runProcess } from "../paths.js";
import { WORKLOADS } from "../workload.js";

interface Stage {
  kind: string;
  metadata: { name: string };
  spec: { resourceRef: { kind: string }; next: { statusTemplate?: string; delete?: boolean } };
}

const documents = parseAllDocuments(readFileSync("bench/scale/kwok.yaml", "utf8")).map((d) => d.toJS() as Stage);
const stage = (name: string) => {
  const found = documents.find((d) => d.kind === "Stage" && d.metadata.name === name);
  assert.ok(found, `no Stage ${name}`);
  return found;
};

const IMAGE = aParsedRuntime().spec.image;
const STARTED = "2026-01-01T00:00:01Z";
const FINISHED = "2026-01-01T00:00:02Z";

/** A Stage's status as kwok would render it for a runner pod: each template action replaced by
 * what it yields here (the image, the time it started, now). */
function rendered(name: string, now: string): { phase: string; containerStatuses: V1ContainerStatus[] } {
  const template = stage(name).spec.next.statusTemplate!;
  return parse(template.replace(/\{\{([^}]*)\}\}/g, (_, action: string) =>
    JSON.stringify(action.includes(".image") ? IMAGE : action.includes("startedAt") ? STARTED : now)));
}

const config = testConfig();
const run = aRun("scale", { script: WORKLOADS.hello.script });

describe("the Stages kwok plays the fake nodes with", () => {
  it("are one configuration and uniquely named Stages of nodes and pods", () => {
    assert.equal(documents[0]!.kind, "KwokConfiguration");
    const stages = documents.slice(1);
    assert.ok(stages.every((d) => d.kind === "Stage"));
    assert.equal(new Set(stages.map((d) => d.metadata.name)).size, stages.length);
    assert.deepEqual(stages.map((d) => d.spec.resourceRef.kind), ["Node", "Pod", "Pod", "Pod"]);
  });

  it("start the runner container, then end it in a way the controller reads as the hello script's success", () => {
    const started = rendered("scale-runner-started", STARTED);
    assert.equal(started.phase, "Running");
    assert.equal(started.containerStatuses[0]!.name, RUNNER_CONTAINER);
    const finished = rendered("scale-runner-finished", FINISHED);
    // A strategic merge patch: `running: null` removes the running state the first Stage set.
    const { running, ...state } = finished.containerStatuses[0]!.state!;
    assert.equal(running, null);
    const pod: V1Pod = aPod(run, config);
    pod.status = { ...pod.status, phase: finished.phase, containerStatuses: [{ ...finished.containerStatuses[0]!, state }] };

    const observation = statusFromPod(run, pod, undefined, T0 + 5000, config);
    assert.equal(observation.kind, "finished", JSON.stringify(observation));
    const status = (observation as { status: { phase?: string; result?: unknown; stdout?: string; startedAt?: string; exitCode?: number } }).status;
    assert.equal(status.phase, "Succeeded");
    assert.equal(WORKLOADS.hello.check(status.result, status.stdout ?? ""), undefined);
    assert.equal(status.startedAt, STARTED);
    assert.equal(status.exitCode, 0);
  });

  it("carry the envelope the harness writes for the hello script, but for its time", async () => {
    const terminated = rendered("scale-runner-finished", FINISHED).containerStatuses[0]!.state!.terminated!;
    const message = parseTerminationMessage(terminated.message);
    assert.equal(message.kind, "envelope");
    const request = resolveRequest({ script: WORKLOADS.hello.script }, runtimeLimits(aParsedRuntime(), config.maxScriptBytes));
    assert.ok(request.ok);
    const harness = JSON.parse(await runProcess(HOST_PYTHON, [RUNNER_PATH], JSON.stringify(request.request))) as Record<string, unknown>;
    const staged = JSON.parse(terminated.message!) as Record<string, unknown>;
    // How the sandbox enforced memory depends on the host; the fields it reports do not.
    const comparable = ({ durationMs: _time, sandbox, ...rest }: Record<string, unknown>) => ({ ...rest, sandbox: Object.keys(sandbox as object) });
    assert.deepEqual(comparable(staged), comparable(harness));
  });
});

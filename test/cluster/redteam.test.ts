// The red-team set on the real cluster: every hostile script of images/runner/tests/redteam/
// (cases.json says what each tries, what stops it and what must come back; the harness's pytest
// reads the same file) through POST /execute of a real API in front of a real controller, each in
// a runner pod of its own. Each must end as its case expects where a pod runs it, its pod must be
// gone, and nothing it started may outlive it on the node, which is this machine.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type BehaviourCase, type CaseExpectation, type Outcome, assertMatchesCase, caseFailures } from "../cases.js";
import { type ApiProcess, startApi } from "./api.js";
import { startController, stopController } from "./controller.js";
import { core, createNamespace, deleteNamespace, eventually } from "./kube.js";

const REDTEAM = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "images", "runner", "tests", "redteam");

interface RedTeamCase {
  name: string;
  attack: string;
  stoppedBy: string;
  script: string;
  request: Record<string, unknown>;
  expect: CaseExpectation;
}

/** Each case as a behaviour case: its script read in, "$CALLER_PID" made this process's id, and
 * `expect`, what a pod's sandbox (no /proc, no memory cgroup of the run's own) must give. */
function loadRedTeam(): BehaviourCase[] {
  const { cases } = JSON.parse(readFileSync(join(REDTEAM, "cases.json"), "utf8")) as { cases: RedTeamCase[] };
  return cases.map((c) => {
    const request: BehaviourCase["request"] = { ...c.request, script: readFileSync(join(REDTEAM, c.script), "utf8") };
    if (Array.isArray(request.args)) request.args = request.args.map((a: unknown) => (a === "$CALLER_PID" ? process.pid : a));
    return { name: c.name, about: c.attack, request, expect: c.expect };
  });
}

/** The processes of the runner pods' user (uid 65532, which the sandbox's user namespace maps the
 * script's processes to), with their command lines. */
function runnerProcesses(): Map<string, string> {
  let listed = "";
  try {
    listed = execFileSync("pgrep", ["-a", "-u", "65532"], { encoding: "utf8" });
  } catch (err) {
    if ((err as { status?: number }).status !== 1) throw err; // 1: none
  }
  return new Map(listed.trim().split("\n").filter(Boolean).map((line) => [line.split(" ")[0]!, line]));
}

describe("the red-team set on the real cluster", function () {
  let namespace: string;
  let controller: ChildProcess;
  let api: ApiProcess;
  before(async () => {
    namespace = await createNamespace("redteam");
    controller = startController(namespace);
    api = await startApi({ SCRIPTRUN_API_NAMESPACE: namespace });
  });
  after(async () => {
    if (api) await stopController(api.child);
    if (controller) await stopController(controller);
    await deleteNamespace(namespace);
  });

  it("contains every hostile script through POST /execute, its pod gone and nothing of it left on the node", async () => {
    const before = runnerProcesses();
    // Four at a time: two cores run the node, the control plane and the pods.
    const failures = await caseFailures(loadRedTeam(), 4, async (c) => {
      const began = Date.now();
      const response = await fetch(`${api.url}/execute`, {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(c.request),
      });
      const answer = await response.json() as Outcome & { name: string };
      assert.equal(response.status, 200, `case ${c.name}: ${JSON.stringify(answer)}`);
      assertMatchesCase(c, answer, (Date.now() - began) / 1000);
      await eventually(`the pod of case ${c.name} (run ${answer.name}) to go`, async () =>
        ((await core.listNamespacedPod({ namespace, labelSelector: `scriptrun.dev/run=${answer.name}` })).items.length === 0
          ? true : undefined), 30_000);
    });
    assert.deepEqual(failures, []);
    const left = [...runnerProcesses()].filter(([pid]) => !before.has(pid)).map(([, line]) => line);
    assert.deepEqual(left, [], "processes of the runs' user that outlived their pods");
  }).timeout(90_000);
});

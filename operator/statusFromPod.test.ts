import assert from "node:assert/strict";
import type { ScriptRun, ScriptRunStatus } from "../crds/schema.js";
import { type Observation, statusFromPod } from "./statusFromPod.js";
import { T0, aParsedRuntime, aPod, aRun, envelope, harnessError, running, terminated, testConfig } from "./testkit.js";

const config = testConfig({ SCRIPTRUN_POD_START_TIMEOUT_SECONDS: "120" });

function observe(run: ScriptRun, pod: ReturnType<typeof aPod> | undefined, now = T0 + 5000, log?: string, settings = config): Observation {
  return statusFromPod(run, pod, log, now, settings);
}

function finished(observation: Observation): ScriptRunStatus {
  assert.equal(observation.kind, "finished", JSON.stringify(observation));
  return (observation as { status: ScriptRunStatus }).status;
}

function conditions(status: ScriptRunStatus): Record<string, string> {
  return Object.fromEntries((status.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));
}

const run = aRun("r");
const json = (value: unknown) => JSON.stringify(value);

describe("status from the runner pod", () => {
  describe("while it runs", () => {
    it("is Pending with the pod's name before the container starts", () => {
      const observation = observe(run, aPod(run, config, { state: { waiting: { reason: "ContainerCreating" } } }));
      assert.equal(observation.kind, "waiting");
      const status = (observation as { status: ScriptRunStatus }).status;
      assert.equal(status.phase, "Pending");
      assert.equal(status.podName, "r-runner");
      assert.deepEqual(conditions(status), { Accepted: "True/Accepted", PodCreated: "True/PodCreated", Finished: "False/PodPending" });
    });

    it("says the same while the pod goes through the usual steps of its start, so they cost no status write", () => {
      const message = (pod: ReturnType<typeof aPod>) => {
        const observation = observe(run, pod);
        assert.equal(observation.kind, "waiting");
        return (observation as { status: ScriptRunStatus }).status.conditions?.find((c) => c.type === "Finished")?.message;
      };
      const steps = [aPod(run, config), aPod(run, config, { conditions: [{ type: "PodScheduled", status: "True" }] }),
        aPod(run, config, { state: { waiting: { reason: "ContainerCreating" } } }), aPod(run, config, { state: { waiting: { reason: "PodInitializing" } } })];
      assert.deepEqual(steps.map(message), steps.map(() => "Waiting for the runner pod to start"));
      assert.equal(message(aPod(run, config, { conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/1 nodes are available" }] })),
        "Waiting for the runner pod to start: Unschedulable: 0/1 nodes are available");
      assert.equal(message(aPod(run, config, { state: { waiting: { reason: "ImagePullBackOff", message: "Back-off pulling image" } } })),
        "Waiting for the runner pod to start: ImagePullBackOff: Back-off pulling image");
    });

    it("asks to look again when the start timeout would pass", () => {
      const observation = observe(run, aPod(run, config), T0 + 20_000);
      assert.deepEqual(observation.kind === "waiting" && observation.recheckAfterMs, 100_000);
    });

    it("is Running with the container's start time", () => {
      const observation = observe(run, aPod(run, config, { phase: "Running", state: running(T0 + 1000) }));
      assert.equal(observation.kind, "waiting");
      const status = (observation as { status: ScriptRunStatus }).status;
      assert.equal(status.phase, "Running");
      assert.equal(status.startedAt, "2025-06-01T12:00:01Z");
      assert.equal(conditions(status).Finished, "False/Running");
    });

    it("keeps lastTransitionTime of conditions whose status did not change", () => {
      const before = observe(run, aPod(run, config), T0 + 1000);
      const pending: ScriptRun = { ...run, status: (before as { status: ScriptRunStatus }).status };
      const after = observe(pending, aPod(run, config, { phase: "Running", state: running() }), T0 + 9000);
      const times = (status: ScriptRunStatus) => Object.fromEntries((status.conditions ?? []).map((c) => [c.type, c.lastTransitionTime]));
      // Finished stays False (its reason moves from PodPending to Running), so its time stays too.
      assert.deepEqual(times((after as { status: ScriptRunStatus }).status),
        { Accepted: "2025-06-01T12:00:01Z", PodCreated: "2025-06-01T12:00:01Z", Finished: "2025-06-01T12:00:01Z" });
      const runningRun: ScriptRun = { ...run, status: (after as { status: ScriptRunStatus }).status };
      const done = finished(observe(runningRun, aPod(run, config, { phase: "Succeeded", state: terminated(json(envelope())) }), T0 + 12_000));
      assert.equal(times(done).Finished, "2025-06-01T12:00:12Z");
      assert.equal(times(done).PodCreated, "2025-06-01T12:00:01Z");
    });
  });

  describe("when the harness wrote an envelope", () => {
    it("succeeds with the result, output, exit code, duration and sandbox", () => {
      const message = json(envelope({ result: { message: "done" }, stdout: "hello world\n", stderr: "warn\n", durationMs: 41.6 }));
      const status = finished(observe(run, aPod(run, config, { phase: "Succeeded", state: terminated(message) })));
      assert.equal(status.phase, "Succeeded");
      assert.deepEqual(status.result, { message: "done" });
      assert.equal(status.stdout, "hello world\n");
      assert.equal(status.stderr, "warn\n");
      assert.equal(status.exitCode, 0);
      assert.equal(status.durationMs, 42);
      assert.deepEqual(status.sandbox, { backend: "bubblewrap", memory: "cgroup" });
      assert.equal(status.startedAt, "2025-06-01T12:00:01Z");
      assert.equal(status.finishedAt, "2025-06-01T12:00:03Z");
      assert.equal(status.summary, '{"message":"done"}');
      assert.equal(status.error, undefined);
      assert.deepEqual(conditions(status), { Accepted: "True/Accepted", PodCreated: "True/PodCreated", Finished: "True/Succeeded" });
    });

    it("leaves the result out when it is None (absent means null)", () => {
      const status = finished(observe(run, aPod(run, config, { phase: "Succeeded", state: terminated(json(envelope({ result: null }))) })));
      assert.equal(status.phase, "Succeeded");
      assert.ok(!("result" in status));
      assert.equal(status.summary, "null");
    });

    it("fails with the harness's error, keeping stdout and the script's exit code", () => {
      const message = json(envelope({
        success: false, result: null, stdout: "step 1\n", exitCode: 3,
        error: harnessError("runtime_error", "ValueError: boom", { line: 3, traceback: "Traceback...\nValueError: boom" }),
      }));
      const status = finished(observe(run, aPod(run, config, { phase: "Succeeded", state: terminated(message) })));
      assert.equal(status.phase, "Failed");
      assert.deepEqual(status.error, {
        type: "runtime_error", message: "ValueError: boom", line: 3, traceback: "Traceback...\nValueError: boom", suggestions: [], availableFunctions: [],
      });
      assert.equal(status.stdout, "step 1\n");
      assert.equal(status.exitCode, 3);
      assert.equal(status.summary, "runtime_error: ValueError: boom");
      assert.equal(conditions(status).Finished, "True/RuntimeError");
    });

    it("reads the envelope from the log when the termination message says it was cut", () => {
      const marker = json({ truncated: true, success: true, exitCode: 0, errorType: null, durationMs: 30 });
      const pod = aPod(run, config, { phase: "Succeeded", state: terminated(marker) });
      assert.equal(observe(run, pod).kind, "needsLog");
      const big = Array.from({ length: 20000 }, (_, i) => String(i)).join("\n");
      const status = finished(observe(run, pod, T0 + 5000, `${json(envelope({ stdout: big, result: "ok" }))}\n`));
      assert.equal(status.result, "ok");
      assert.equal(status.stdout, big);
    });

    it("keeps the marker's error type when the log's envelope cannot be read", () => {
      const marker = json({ truncated: true, success: false, exitCode: 1, errorType: "output_limit", durationMs: 30 });
      const status = finished(observe(run, aPod(run, config, { phase: "Succeeded", state: terminated(marker) }), T0 + 5000, "{\"cut\": "));
      assert.equal(status.error?.type, "output_limit");
      assert.match(status.error!.message, /too long for the termination message and the last line of the container log is not JSON/);
    });

    it("is an infrastructure_error when a cut success cannot be read from the log", () => {
      const marker = json({ truncated: true, success: true, exitCode: 0 });
      const status = finished(observe(run, aPod(run, config, { phase: "Succeeded", state: terminated(marker) }), T0 + 5000, ""));
      assert.equal(status.error?.type, "infrastructure_error");
      assert.match(status.error!.message, /the container log is empty/);
    });

    it("fails with invalid_result when the pod's runtime requires an object and got something else", () => {
      const strict = aParsedRuntime("python", { requireObjectResult: true });
      const status = finished(observe(run, aPod(run, config, { phase: "Succeeded", state: terminated(json(envelope({ result: null }))) }, strict), T0 + 5000));
      assert.equal(status.error?.type, "invalid_result");
      assert.match(status.error!.message, /returned None/);
      const ok = finished(observe(run, aPod(run, config, { phase: "Succeeded", state: terminated(json(envelope({ result: { a: 1 } }))) }, strict), T0 + 5000));
      assert.equal(ok.phase, "Succeeded");
      assert.deepEqual(ok.runtime, { name: "python", image: "localhost/scriptrun/runner:test" });
    });

    it("refuses an outcome from a weaker sandbox than the operator requires", () => {
      const nsjail = testConfig({ SCRIPTRUN_SANDBOX_BACKEND: "nsjail" });
      const status = finished(observe(run, aPod(run, config, { phase: "Succeeded", state: terminated(json(envelope())) }), T0 + 5000, undefined, nsjail));
      assert.equal(status.error?.type, "infrastructure_error");
      assert.match(status.error!.message, /used bubblewrap, but the operator requires nsjail/);
      assert.ok(!("result" in status));
    });
  });

  describe("when the pod itself failed", () => {
    it("is memory_limit when the kubelet OOM-killed the container", () => {
      const status = finished(observe(run, aPod(run, config, { phase: "Failed", state: terminated(undefined, { exitCode: 137, reason: "OOMKilled" }) })));
      assert.equal(status.error?.type, "memory_limit");
      assert.match(status.error!.message, /memory limit \(320Mi\)/);
      assert.equal(status.exitCode, 137);
      assert.equal(conditions(status).Finished, "True/MemoryLimit");
    });

    it("is timeout when the pod's deadline killed a running script", () => {
      const status = finished(observe(run, aPod(run, config, { phase: "Failed", reason: "DeadlineExceeded", state: terminated(undefined, { exitCode: 137, reason: "Error" }) })));
      assert.equal(status.error?.type, "timeout");
      assert.match(status.error!.message, /deadline of 40 seconds/);
    });

    it("is timeout when the deadline passed while the container still showed as running", () => {
      const status = finished(observe(run, aPod(run, config, { phase: "Failed", reason: "DeadlineExceeded", state: running() })));
      assert.equal(status.error?.type, "timeout");
    });

    it("is infrastructure_error when the deadline passed before the container ever started", () => {
      const status = finished(observe(run, aPod(run, config, { phase: "Failed", reason: "DeadlineExceeded" })));
      assert.equal(status.error?.type, "infrastructure_error");
    });

    it("is infrastructure_error when the pod was evicted", () => {
      const status = finished(observe(run, aPod(run, config, { phase: "Failed", reason: "Evicted", state: running() })));
      assert.equal(status.error?.type, "infrastructure_error");
      assert.match(status.error!.message, /was evicted/);
    });

    it("is infrastructure_error when the pod is marked for disruption", () => {
      const status = finished(observe(run, aPod(run, config, {
        phase: "Running", state: running(), conditions: [{ type: "DisruptionTarget", status: "True", reason: "EvictionByEvictionAPI" }],
      })));
      assert.equal(status.error?.type, "infrastructure_error");
      assert.match(status.error!.message, /EvictionByEvictionAPI/);
    });

    for (const garbage of ["", "not json at all", "[1, 2]", json({ success: "yes" }), json({ success: false, result: null })]) {
      it(`is infrastructure_error, not a crash, for the termination message ${JSON.stringify(garbage)}`, () => {
        const status = finished(observe(run, aPod(run, config, { phase: "Succeeded", state: terminated(garbage) })));
        assert.equal(status.error?.type, "infrastructure_error");
        assert.match(status.error!.message, /without a valid envelope/);
      });
    }

    it("is infrastructure_error when the harness exited non-zero without an envelope", () => {
      const status = finished(observe(run, aPod(run, config, { phase: "Failed", state: terminated(undefined, { exitCode: 2, reason: "Error" }) })));
      assert.equal(status.error?.type, "infrastructure_error");
      assert.match(status.error!.message, /exited with code 2 \(Error\)/);
    });

    it("is infrastructure_error when the pod vanished", () => {
      const status = finished(observe({ ...run, status: { phase: "Running", podName: "r-runner" } }, undefined));
      assert.equal(status.error?.type, "infrastructure_error");
      assert.equal(status.podName, "r-runner");
      assert.match(status.error!.message, /disappeared/);
    });
  });

  describe("when the pod does not start", () => {
    const image = ' (image "localhost/scriptrun/runner:test" of runtime "python")';
    for (const [reason, named] of [["ImagePullBackOff", image], ["ErrImagePull", image], ["CreateContainerConfigError", ""]]) {
      it(`waits on ${reason} within the start timeout, then fails with infrastructure_error${named ? " naming the image" : ""}`, () => {
        const pod = aPod(run, config, { state: { waiting: { reason, message: "details" } } });
        const early = observe(run, pod, T0 + 60_000);
        assert.equal(early.kind, "waiting");
        assert.match(conditions((early as { status: ScriptRunStatus }).status).Finished!, /False\/PodPending/);
        const status = finished(observe(run, pod, T0 + 120_000));
        assert.equal(status.error?.type, "infrastructure_error");
        assert.equal(status.error!.message, `The runner pod did not start within 120 seconds: ${reason}: details${named}`);
      });
    }

    for (const reason of ["ErrImageNeverPull", "InvalidImageName"]) {
      it(`fails at once on ${reason}, which no retry cures, naming the image and runtime`, () => {
        const pod = aPod(run, config, { state: { waiting: { reason, message: "details" } } });
        const status = finished(observe(run, pod, T0 + 2000));
        assert.equal(status.error?.type, "infrastructure_error");
        assert.equal(status.error!.message, `The runner image cannot start: ${reason}: details${image}`);
        assert.deepEqual(status.runtime, { name: "python", image: "localhost/scriptrun/runner:test" });
      });
    }

    it("fails an unschedulable pod after the start timeout, with the scheduler's reason", () => {
      const pod = aPod(run, config, { conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/1 nodes are available" }] });
      assert.equal(observe(run, pod, T0 + 1000).kind, "waiting");
      const status = finished(observe(run, pod, T0 + 121_000));
      assert.match(status.error!.message, /Unschedulable: 0\/1 nodes are available/);
    });

    it("fails a pod that runs far past its deadline, as on a node that stopped answering", () => {
      const pod = aPod(run, config, { phase: "Running", state: running() });
      assert.equal(observe(run, pod, T0 + 100_000).kind, "waiting");
      const status = finished(observe(run, pod, T0 + (40 + 120) * 1000));
      assert.equal(status.error?.type, "infrastructure_error");
      assert.match(status.error!.message, /node may be unreachable/);
    });
  });
});

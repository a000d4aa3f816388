// The chaos scenarios: each sets its stage, starts runs (warm and cold), does one kind of harm
// while they run, and says when the harm was undone; the stage then waits for every run and
// tallies. `runScenario` is what `make chaos` (main.ts) and the lean test in test/cluster run.
import { setTimeout as sleep } from "node:timers/promises";
import type { ApiProcess } from "../cluster/api.js";
import { stopController } from "../cluster/controller.js";
import { RUNNER_CONTAINER } from "../../operator/names.js";
import { core, custom } from "../cluster/kube.js";
import { type Component, killContainer, restartCluster, stopComponent } from "./faults.js";
import { Stage, type StageOptions } from "./stage.js";
import { type ScenarioFigures, broken, fateOf } from "./tally.js";
import { type Job, wave } from "./workload.js";

export interface Scenario {
  name: string;
  /** What is done, for the results. */
  fault: string;
  replicas?: number;
  /** Starts its runs and does its harm; resolves with when the harm was undone (ms). */
  inject(stage: Stage): Promise<number>;
}

const WAVE = 6;
/** How long a stopped cluster component stays down. */
const OUTAGE_MS = 8_000;

/** The controller SIGKILLed `times` times while runs are in flight, restarted at once each time:
 * first with runs Running, then each time as it acts on a new wave of runs (its first pod made or
 * claimed), so that the kill lands among claims, attaches, pod creations and status writes. */
export function controllerKills(times: number): Scenario {
  return {
    name: `controller-sigkill-x${times}`,
    fault: `the controller SIGKILLed ${times} times (with runs Running, then as it acts on each new wave of 3 runs), restarted at once each time`,
    async inject(stage) {
      await stage.submit(wave("a", WAVE, stage.runtime));
      await stage.running(2);
      let undone = await stage.killController(0);
      for (let k = 1; k < times; k++) {
        const jobs = wave(`w${k}`, 3, stage.runtime);
        await stage.submit(jobs);
        await stage.podFor(jobs.map((j) => j.name));
        undone = await stage.killController(0);
      }
      return undone;
    },
  };
}

export const leaderKill: Scenario = {
  name: "controller-leader-sigkill",
  fault: "two controller replicas on a Lease (15 s, the default); the leader SIGKILLed and not restarted",
  replicas: 2,
  async inject(stage) {
    await stage.submit(wave("a", WAVE, stage.runtime));
    await stage.running(2);
    return stage.killController(await stage.leader(), false);
  },
};

/** POST /execute of `job` with its own Idempotency-Key. */
async function execute(api: ApiProcess, job: Job): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = await fetch(`${api.url}/execute`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": `chaos-${job.name}` },
    body: JSON.stringify({ ...job.spec, waitSeconds: 120 }),
  });
  return { status: answer.status, body: await answer.json() as Record<string, unknown> };
}

export const apiKill: Scenario = {
  name: "api-sigkill",
  fault: "the API SIGKILLed while its /execute callers wait (each with an Idempotency-Key), then restarted; each caller retries",
  async inject(stage) {
    const env = { SCRIPTRUN_API_NAMESPACE: stage.namespace, SCRIPTRUN_API_MAX_WAIT_SECONDS: "120" };
    let api = await stage.startApi(env);
    const jobs = wave("api", WAVE, stage.runtime);
    const first = jobs.map((job) => execute(api, job).then(({ status }) => `answered ${status}`, () => "cut off"));
    await stage.until(`the callers' ${WAVE} runs to exist`, (runs) => runs.size >= WAVE);
    await stopController(api.child, "SIGKILL");
    // Each first attempt's run, by the argument it was given.
    const made = await custom.listNamespacedCustomObject({ group: "scriptrun.dev", version: "v1alpha1", plural: "scriptruns", namespace: stage.namespace }) as
      { items: Array<{ metadata: { name: string }; spec: { args?: unknown[] } }> };
    const nameOf = new Map(made.items.map((run): [unknown, string] => [run.spec.args?.[0], run.metadata.name]));
    for (const [i, job] of jobs.entries()) {
      const name = nameOf.get(i);
      if (name) stage.track({ name, expected: job.expected });
      else stage.flag({ fate: "lost", line: `${job.name}: its first attempt made no run` });
    }
    const callers = await Promise.all(first);
    stage.note(`first attempts: ${callers.filter((c) => c === "cut off").length} of ${WAVE} cut off by the kill (${callers.join(", ")})`);
    api = await stage.startApi(env);
    const undone = Date.now();
    try {
      const retries = await Promise.all(jobs.map((job) => execute(api, job).catch((err: unknown) => ({ status: 0, body: { error: String(err) } as Record<string, unknown> }))));
      stage.note(`retries answered ${((Date.now() - undone) / 1000).toFixed(1)} s after the restart`);
      for (const [i, { status, body }] of retries.entries()) {
        const job = jobs[i]!;
        const firstRun = nameOf.get(i);
        if (status !== 200) stage.flag({ fate: "lost", line: `${job.name}: the retry answered ${status} ${JSON.stringify(body).slice(0, 300)}` });
        else if (body.name !== firstRun) stage.flag({ fate: "duplicated", line: `${job.name}: the retry got run ${String(body.name)}, not ${String(firstRun)}` });
        else {
          const { fate, why } = fateOf({ uid: "", ...body } as Parameters<typeof fateOf>[0], job.expected);
          if (fate === "wrong") stage.flag({ fate, line: `${job.name}: the retry's answer ${why}` });
        }
      }
    } finally {
      await stopController(api.child);
    }
    return undone;
  },
};

/** A cluster component stopped while runs are in flight, and started again `OUTAGE_MS` later;
 * where the apiserver still answers, a second wave of runs is created during the outage. */
export function componentStop(component: Component): Scenario {
  const apiserverUp = component === "kubelet" || component === "containerd";
  return {
    name: `${component}-stop`,
    fault: `${component} stopped (SIGTERM) for ${OUTAGE_MS / 1000} s while runs are in flight, then started again by cluster/up.sh` +
      (apiserverUp ? "; 3 more runs created during the outage" : ""),
    async inject(stage) {
      await stage.submit(wave("a", WAVE, stage.runtime));
      await stage.running(2);
      await stopComponent(component);
      // Neither step throws (a create the outage refuses is left untracked): the component is
      // always started again, and interrupted, `make chaos` starts it on its way out.
      if (apiserverUp) await stage.submit(wave("b", 3, stage.runtime));
      await sleep(OUTAGE_MS);
      const restart = restartCluster(component, `${stage.logDir}/cluster-up.log`);
      stage.await(restart.done);
      return restart.back;
    },
  };
}

type Harm = (namespace: string, pod: string) => Promise<void>;

/** Two runs' runner pods (one warm, one cold, when both run within 20 s) harmed mid-run by `harm`;
 * the runs sleep 4 s longer than usual, so that the harm lands before their scripts end. */
function podHarm(name: string, fault: string, harm: Harm): Scenario {
  return {
    name, fault,
    async inject(stage) {
      await stage.submit(wave("a", WAVE, stage.runtime, 4));
      const both = await stage.running(2, 20_000, (runs) => runs.some((r) => r.start === "warm") && runs.some((r) => r.start === "cold"))
        .catch(() => undefined);
      const victims = both ? [both.find((r) => r.start === "warm")!, both.find((r) => r.start === "cold")!] : (await stage.running(2)).slice(0, 2);
      await Promise.all(victims.map((v) => harm(stage.namespace, v.podName)));
      stage.note(`harmed mid-run: ${victims.map((v) => `${v.name} (${v.start ?? "?"}, pod ${v.podName})`).join(", ")}`);
      return Date.now();
    },
  };
}

const deletePod: Harm = async (namespace, pod) => {
  await core.deleteNamespacedPod({ namespace, name: pod });
};

export const podDelete = podHarm("runner-pod-deleted", "two runs' runner pods (one warm, one cold) deleted (kubectl delete pod) mid-run", deletePod);

/** A warm run's pod deleted the moment the run shows Running, a fraction of a second after its
 * claim: while the controller may still go by what the claim returned rather than its cache. */
export const warmPodDeleted: Scenario = {
  name: "warm-pod-deleted-at-claim",
  fault: "a warm run's pod deleted (kubectl delete pod) as soon as the run shows Running, within a second of its claim",
  async inject(stage) {
    await stage.submit(wave("a", WAVE, stage.runtime));
    const [victim] = await stage.running(1, 60_000, (runs) => runs.some((r) => r.start === "warm"));
    await deletePod(stage.namespace, victim!.podName);
    stage.note(`deleted: ${victim!.name}'s pod ${victim!.podName}`);
    return Date.now();
  },
};

export const containerKill = podHarm("runner-container-killed",
  "two runs' runner containers (one warm, one cold) SIGKILLed on the node through containerd mid-run", async (namespace, pod) => {
    const status = (await core.readNamespacedPod({ namespace, name: pod })).status?.containerStatuses
      ?.find((c) => c.name === RUNNER_CONTAINER && c.state?.running && c.containerID);
    if (!status?.containerID) throw new Error(`pod ${pod} has no running runner container to kill`);
    await killContainer(status.containerID);
  });

/** Every scenario of `make chaos`, in order. */
export const SCENARIOS: Scenario[] = [
  controllerKills(5), leaderKill, apiKill,
  componentStop("kube-apiserver"), componentStop("etcd"), componentStop("kubelet"), componentStop("containerd"),
  podDelete, warmPodDeleted, containerKill,
];

/** Sets the scenario's stage, does its harm, and tallies; a scenario that breaks is a failed one. */
export async function runScenario(scenario: Scenario, options: StageOptions): Promise<ScenarioFigures> {
  let stage: Stage | undefined;
  let figures: ScenarioFigures;
  try {
    stage = await Stage.open(scenario.name, { ...options, replicas: scenario.replicas ?? 1 });
    figures = await stage.settle(scenario.fault, await scenario.inject(stage));
  } catch (err) {
    figures = broken(scenario.name, scenario.fault, err);
  }
  try {
    await stage?.close();
  } catch (err) {
    figures.problems.push(`the stage did not close cleanly: ${String(err)}`);
    figures.verdict = "fail";
  }
  return figures;
}

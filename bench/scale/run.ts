// `make scale` (scripts/scale.sh runs this): 10 000 ScriptRuns through the real controller and API
// onto 100 nodes that kwok simulates, then 1 000 callers waiting on /execute at once. Prints the
// figures beside the goals of issue 17 and writes bench/results/scale.json; bench/README.md
// ("make scale") explains every figure. Needs the cluster of KUBECONFIG and a built dist/.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kc } from "../../test/cluster/kube.js";
import { machine, versions } from "../machine.js";
import { runScale } from "./harness.js";
import { scaleSettings } from "./options.js";
import { cpuTable, goalTable } from "./report.js";

const say = (line: string) => console.error(line);
const interrupted = new AbortController();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    say(`Received ${signal}: no more runs are sent or waited for; cleaning up`);
    interrupted.abort();
  });
}

async function main(): Promise<void> {
  const settings = scaleSettings(process.env);
  const started = new Date();
  // Before the fake nodes exist: the versions are the real node's.
  const pinned = await versions(kc);
  const result = await runScale(kc, {
    nodes: settings.nodes, runs: settings.runs, inFlight: settings.inFlight, senders: settings.senders,
    callers: settings.callers, stallMs: settings.stallSeconds * 1000, build: "dist", controller: settings.controller, signal: interrupted.signal, say,
  });
  if (interrupted.signal.aborted) throw new Error("Interrupted: nothing written");
  const { figures, runsPhase, callers, goals, caps } = result;
  const finished = figures.runs - figures.refused - figures.lost;
  const report = {
    ...figures,
    cpu_shares: Object.fromEntries(Object.entries(runsPhase.cpu).map(([name, use]) => [name, Math.round(use.share * 1000) / 1000])),
    cpu_ms: Object.fromEntries(Object.entries(runsPhase.cpu).map(([name, use]) => [name, Math.round(use.ms)])),
    host_busy_cpu_ms: Math.round(runsPhase.hostBusyMs),
    elapsed_ms: Math.round(runsPhase.drive.elapsedMs),
    post_answers: runsPhase.drive.answers,
    callers,
    goals,
    date: started.toISOString(),
    options: { ...settings, caps },
    machine: machine(),
    versions: pinned,
  };
  mkdirSync(settings.outDir, { recursive: true });
  const out = join(settings.outDir, "scale.json");
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`${figures.runs} runs on ${settings.nodes} fake nodes: ${figures.completed_runs_per_s} runs/s, create → Succeeded p50 ` +
    `${figures.create_to_succeeded_p50_ms} ms, p95 ${figures.create_to_succeeded_p95_ms} ms; max work queue depth ${figures.max_queue_depth}, ` +
    `max Queued ${figures.max_runs_queued}\n`);
  if (settings.controller === "floor") console.log("The controller row is the floor's (bench/scale/floor.ts): the runs' I/O and nothing else.\n");
  console.log(cpuTable(runsPhase, finished));
  if (goals.length > 0) console.log(`\n${goalTable(goals)}`);
  console.log(`\nWrote ${out}`);
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error("make scale failed:", err);
  process.exit(1);
});

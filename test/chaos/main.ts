// `make chaos` (scripts/chaos.sh runs this): every scenario of scenarios.ts on the cluster of
// KUBECONFIG, one after the other, a table of their figures on stdout and the whole in
// test/chaos/results/latest.json. Exits 1 when a scenario lost, duplicated, left stuck or got
// wrong any run (or broke). CHAOS_SCENARIOS=name,name runs only those; CHAOS_BUILD=source runs the
// controllers and the API from the sources instead of dist/.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Build } from "../cluster/kube.js";
import { SCENARIOS, runScenario } from "./scenarios.js";
import { type ScenarioFigures, table } from "./tally.js";

const here = dirname(fileURLToPath(import.meta.url));
const RESULTS = resolve(here, "results", "latest.json");

const only = (process.env.CHAOS_SCENARIOS ?? "").split(",").map((s) => s.trim()).filter(Boolean);
const unknown = only.filter((name) => !SCENARIOS.some((s) => s.name === name));
if (unknown.length > 0) {
  console.error(`Unknown scenarios: ${unknown.join(", ")}; the scenarios are: ${SCENARIOS.map((s) => s.name).join(", ")}`);
  process.exit(2);
}
const build: Build = process.env.CHAOS_BUILD === "source" ? "source" : "dist";
const began = new Date();
const logDir = process.env.CHAOS_LOG_DIR ?? `/tmp/scriptrun-chaos/${began.toISOString().replace(/[:.]/g, "-")}`;

const figures: ScenarioFigures[] = [];
for (const scenario of SCENARIOS.filter((s) => only.length === 0 || only.includes(s.name))) {
  const started = Date.now();
  console.error(`[chaos] ${scenario.name}: ${scenario.fault}`);
  const result = await runScenario(scenario, { build, logDir });
  figures.push(result);
  console.error(`[chaos] ${scenario.name}: ${result.verdict} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  for (const line of [...result.problems, ...result.notes]) console.error(`[chaos]   ${line}`);
}

console.log(table(figures));
const commit = (() => {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: here, encoding: "utf8" }).trim();
  } catch {
    return undefined;
  }
})();
mkdirSync(dirname(RESULTS), { recursive: true });
writeFileSync(RESULTS, `${JSON.stringify({
  date: began.toISOString(), seconds: Math.round((Date.now() - began.getTime()) / 1000), commit, build,
  machine: { cpus: cpus().length, model: cpus()[0]?.model }, logs: logDir,
  definitions: {
    runs: "runs the scenario asked for and the cluster took (a create refused during an outage makes no run), a probe run made once the fault was undone included",
    lost: "a run that was taken but is gone, or an API retry that got no run back",
    duplicated: "a run whose script may have run in two pods (pods it owned whose runner started, less those its runner or the controller said ran nothing), or a run nobody asked for",
    stuck: "a run not Succeeded or Failed 150 s after the fault was undone",
    wrong: "a run that succeeded with another result or stdout than its script gives, or failed with another error than infrastructure_error",
    recoverSeconds: "from the fault undone (the controller restarted; the component's new process up; the leader killed; the pods harmed; the API restarted) until the last run was seen finished, polled every 0.5 s",
  },
  scenarios: figures,
}, null, 2)}\n`);
console.error(`[chaos] results: ${RESULTS}; logs: ${logDir}`);
process.exit(figures.every((f) => f.verdict === "pass") ? 0 : 1);

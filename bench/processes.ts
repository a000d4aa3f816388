// The controller and the API the bench measures: the compiled dist/ (as production runs them),
// started as child processes by the real-cluster tests' helpers, with the controller's metrics on
// a free port of the loopback.
import type { ChildProcess } from "node:child_process";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ApiProcess, startApi } from "../test/cluster/api.js";
import { startController } from "../test/cluster/controller.js";
import { type Build, answering, freePort } from "../test/cluster/kube.js";
import { type Sample, parseMetrics } from "./prometheus.js";

export interface ControllerProcess {
  child: ChildProcess;
  metricsUrl: string;
}

/** Room for every run of a batch at concurrency 16, and then some: the caps are not what is measured
 * (unless the environment sets them, as it may set any of the controller's variables). */
const CAPS = {
  SCRIPTRUN_MAX_CONCURRENT_RUNS: process.env.SCRIPTRUN_MAX_CONCURRENT_RUNS ?? "64",
  SCRIPTRUN_MAX_CONCURRENT_RUNS_PER_NAMESPACE: process.env.SCRIPTRUN_MAX_CONCURRENT_RUNS_PER_NAMESPACE ?? "64",
};

function newest(dir: string): number {
  return Math.max(0, ...readdirSync(dir).filter((f) => f.endsWith(".ts")).map((f) => statSync(join(dir, f)).mtimeMs));
}

/** Throws unless dist/ was built after the last change to the sources it is built from. */
export function assertBuilt(): void {
  const built = (entry: string) => {
    try {
      return statSync(`dist/${entry}.js`).mtimeMs;
    } catch {
      return 0;
    }
  };
  const sources = Math.max(...["core", "operator", "api", "api/routes", "crds"].map(newest));
  if (Math.min(built("operator/main"), built("api/main")) < sources) {
    throw new Error("dist/ is missing or older than the sources: run `npm run build` first (scripts/bench.sh does)");
  }
}

/** `caps`: other caps than the bench's for variables the environment does not set; `build`: the
 * sources instead of dist/ for a test, which builds nothing; `entry`: the program, when not the
 * controller (make scale's floor). */
export async function startBenchController(namespace: string, caps: Partial<typeof CAPS> = {}, build: Build = "dist",
  entry = "operator/main"): Promise<ControllerProcess> {
  const port = await freePort();
  const own = Object.fromEntries(Object.entries(caps).filter(([name]) => process.env[name] === undefined));
  const child = startController(namespace, { ...CAPS, ...own, SCRIPTRUN_METRICS_PORT: String(port) }, build, "inherit", entry);
  const metricsUrl = `http://127.0.0.1:${port}`;
  await answering("the controller's metrics server", child, `${metricsUrl}/healthz`);
  return { child, metricsUrl };
}

export function startBenchApi(namespace: string, build: Build = "dist", env: Record<string, string> = {}): Promise<ApiProcess> {
  return startApi({ SCRIPTRUN_API_NAMESPACE: namespace, SCRIPTRUN_RUNNER_PATH: "images/runner/runner.py", ...env }, build);
}

export async function scrape(baseUrl: string): Promise<Sample[]> {
  const response = await fetch(`${baseUrl}/metrics`);
  if (!response.ok) throw new Error(`GET ${baseUrl}/metrics answered ${response.status}`);
  return parseMetrics(await response.text());
}

/** A process's resident set now (VmRSS) or at its highest so far (VmHWM), in MiB, from /proc. */
export function rssMiB(pid: number, which: "VmRSS" | "VmHWM" = "VmRSS"): number {
  const match = new RegExp(`^${which}:\\s+(\\d+) kB$`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`No ${which} for process ${pid}`);
  return Number(match[1]) / 1024;
}

/** Each process's peak resident set (MiB) while `work` ran. The kernel's high-water mark (VmHWM) is
 * the peak of the process's whole life, whichever phase reached it; writing 5 to clear_refs starts
 * it afresh (Linux 4.0 and later), so the mark read after `work` is that of `work` alone. */
export async function peakRssDuring<K extends string, T>(pids: Record<K, number>, work: () => Promise<T>): Promise<{ result: T; peakMiB: Record<K, number> }> {
  const names = Object.keys(pids) as K[];
  for (const name of names) writeFileSync(`/proc/${pids[name]}/clear_refs`, "5");
  const result = await work();
  return { result, peakMiB: Object.fromEntries(names.map((name) => [name, rssMiB(pids[name], "VmHWM")])) as Record<K, number> };
}

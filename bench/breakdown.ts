// Where a path's time goes. Two sources, each precise where the other is not:
// - the bench's own watches mark, per run, when its pod was first seen (it exists) and first seen
//   finished (the kubelet reported the exit), which cuts each run into before, during and after the pod;
// - the controller's and the API's histograms, scraped before and after a batch, split those parts
//   into stages (means per run; pod_started rests on Kubernetes timestamps of one-second resolution,
//   so it is only right on average, and so is the "pod exit reported" segment computed from it).
// A warm run has no pod start: the watches mark when its pool pod was claimed (first seen owned by
// the run) and when the run was seen finished, and the histograms split those parts into the
// claim, the script and the status write; the rest is the attach.
import type { Segment } from "./chart.js";
import type { PathName } from "./options.js";
import type { RunSample } from "./paths.js";
import { type HistogramDelta, type Sample, histogramDelta } from "./prometheus.js";
import { mean, round1 } from "./stats.js";

export const CONTROLLER_STAGES = ["queue", "preflight", "pod_created", "pod_claimed", "pod_started", "execution", "status_written"] as const;
export type StageName = (typeof CONTROLLER_STAGES)[number] | "api_preflight" | "api_execute";
export type StageMeans = Record<StageName, HistogramDelta>;

export interface Scrape {
  controller: Sample[];
  api: Sample[];
}

/** What the controller and the API observed between two scrapes. */
export function stageMeans(before: Scrape, after: Scrape): StageMeans {
  const stages = Object.fromEntries(CONTROLLER_STAGES.map((stage) =>
    [stage, histogramDelta(before.controller, after.controller, "scriptrun_stage_duration_seconds", { stage })]));
  return {
    ...stages,
    api_preflight: histogramDelta(before.api, after.api, "scriptrun_api_preflight_duration_seconds", { outcome: "ok" }),
    api_execute: histogramDelta(before.api, after.api, "scriptrun_api_request_duration_seconds", { route: "/execute" }),
  } as StageMeans;
}

/** The runs that finished right and whose pod the watch saw from creation to exit. */
function withPods(samples: readonly RunSample[]): Array<RunSample & { pod: { created: number; done: number } }> {
  return samples.filter((s): s is RunSample & { pod: { created: number; done: number } } =>
    s.error === undefined && s.pod?.done !== undefined);
}

const meanOf = (samples: readonly RunSample[], f: (s: RunSample & { pod: { created: number; done: number } }) => number) =>
  mean(withPods(samples).map(f));

/** Per run: the path's total minus its pod's life (created → exit reported). */
export function overheads(samples: readonly RunSample[]): number[] {
  return withPods(samples).map((s) => s.end - s.start - (s.pod.done - s.pod.created));
}

const segment = (name: string, ms: number): Segment => ({ name, ms: round1(ms) });

type Marked = RunSample & { pod: { created: number }; run: { created: number; finished: number; running?: number } };

/** The warm runs that finished right and whose claim and finish the watches saw. */
export function warmMarked(samples: readonly RunSample[]): Marked[] {
  return samples.filter((s): s is Marked => s.error === undefined && s.run?.start === "warm" && s.pod !== undefined
    && s.run.finished !== undefined);
}

/** The segments of a warm path, cut as the cold ones: before the claim (the run created and the
 * controller hearing of it, preflight, the claim), from the claim to the run seen finished (the
 * attach: the request sent to the waiting runner and its envelope back, all but the script; the
 * script; the status write), and the answer. Marks from the watches (pod claimed: first seen owned
 * by the run; run seen finished), split by the stage histograms. */
function warmSegments(path: "warm-execute" | "warm-scriptrun", samples: readonly RunSample[], m: (stage: StageName) => number): Segment[] {
  const marked = warmMarked(samples);
  const meanOver = (f: (s: Marked) => number) => mean(marked.map(f));
  const before = meanOver((s) => s.pod.created - s.start);
  const claimToFinished = meanOver((s) => s.run.finished - s.pod.created);
  const answer = meanOver((s) => s.end - s.run.finished);
  return [
    ...(path === "warm-execute"
      ? [segment("API preflight", m("api_preflight")), segment("API → controller", before - m("api_preflight") - m("pod_claimed"))]
      : [segment("create → controller", before - m("pod_claimed"))]),
    segment("controller preflight", m("preflight")),
    segment("claim", m("pod_claimed") - m("preflight")),
    segment("attach", claimToFinished - m("execution") - m("status_written")),
    segment("script (harness)", m("execution")),
    segment("status write", m("status_written")),
    segment(path === "warm-execute" ? "API answer" : "watch → client", answer),
  ];
}

/** Where a warm batch's time between the claim and the finish went, as the ScriptRun watch saw
 * its status change: claim → status Running (the controller's first write after the claim), and
 * Running → finished (the rest: its Event, the answer, the final write). Means, in ms. */
export function warmMarks(samples: readonly RunSample[]): { runs: number; claimToRunningMs: number; runningToFinishedMs: number } | undefined {
  const marked = warmMarked(samples).filter((s) => s.run.running !== undefined);
  if (marked.length === 0) return undefined;
  return {
    runs: marked.length,
    claimToRunningMs: round1(mean(marked.map((s) => s.run.running! - s.pod.created))),
    runningToFinishedMs: round1(mean(marked.map((s) => s.run.finished - s.run.running!))),
  };
}

/** The stacked segments of one batch, in order; they add up to the batch's mean total. `stages`:
 * what the controller and the API observed meanwhile (paths A and B, warm or not). */
export function segmentsOf(path: PathName, samples: readonly RunSample[], stages?: StageMeans): Segment[] {
  const ok = samples.filter((s) => s.error === undefined);
  if (path === "direct") return [segment("runner on the host", mean(ok.map((s) => s.end - s.start)))];
  const m = (stage: StageName) => (stages && stages[stage].count > 0 ? stages[stage].meanMs : 0);
  if (path === "warm-execute" || path === "warm-scriptrun") return warmSegments(path, samples, m);
  const before = meanOf(samples, (s) => s.pod.created - s.start);
  const during = meanOf(samples, (s) => s.pod.done - s.pod.created);
  if (path === "job") {
    const jobDone = meanOf(samples, (s) => (s.complete ?? s.pod.done) - s.pod.done);
    const read = meanOf(samples, (s) => s.end - (s.complete ?? s.pod.done));
    return [segment("Job → pod", before), segment("pod: created → exit reported", during),
      segment("Job marked complete", jobDone), segment("log read", read)];
  }
  const after = meanOf(samples, (s) => s.end - s.pod.done);
  const podTime = m("pod_started") + m("execution");
  return [
    ...(path === "execute"
      ? [segment("API preflight", m("api_preflight")),
        segment("API → controller", before - m("api_preflight") - m("pod_created"))]
      : [segment("create → controller", before - m("pod_created"))]),
    segment("controller preflight", m("preflight")),
    segment("pod creation", m("pod_created") - m("preflight")),
    segment("pod start", m("pod_started")),
    segment("script (harness)", m("execution")),
    segment("pod exit reported", during - podTime),
    segment("status write", m("status_written")),
    segment(path === "execute" ? "API answer" : "watch → client", after - m("status_written")),
  ];
}

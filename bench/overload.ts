// Overload: bursts of concurrent hello /execute calls, far past what the node runs in a wait,
// after a warm-up that lets the API learn the rate runs finish at. What each caller got (answered
// right, refused early with 429, or the 504 the API should never give under a load it could
// predict), and the peak memory of the API and the controller during that burst alone. Between
// bursts the queue drains.
import { setTimeout as sleep } from "node:timers/promises";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { RUNS } from "../core/kube.js";
import { type ScriptRun, isFinished } from "../crds/schema.js";
import type { BenchContext } from "./paths.js";
import { postExecute } from "./paths.js";
import { peakRssDuring } from "./processes.js";
import { percentile, round1 } from "./stats.js";
import { WORKLOADS } from "./workload.js";

export interface Burst {
  calls: number;
  /** Answered 200 with the right result. */
  right: number;
  /** Answered 200 with a wrong or failed outcome. */
  wrong: number;
  refused: number;
  timedOut: number;
  other: number;
  /** Longest wait of a call answered 200. */
  answeredMaxMs: number | null;
  refusedP50Ms: number | null;
  /** Longest wait of a call refused: one held for the runs ahead is refused after a while. */
  refusedMaxMs: number | null;
  apiRssMiB: number;
  controllerRssMiB: number;
}

interface Call {
  status: number;
  right: boolean;
  ms: number;
}

/** The figures of one burst from what each call got. */
export function tally(calls: readonly Call[], rss: { api: number; controller: number }): Burst {
  const ms = (pick: (c: Call) => boolean) => calls.filter(pick).map((c) => c.ms);
  const answered = ms((c) => c.status === 200);
  const refused = ms((c) => c.status === 429);
  return {
    calls: calls.length,
    right: calls.filter((c) => c.status === 200 && c.right).length,
    wrong: calls.filter((c) => c.status === 200 && !c.right).length,
    refused: refused.length,
    timedOut: calls.filter((c) => c.status === 504).length,
    other: calls.filter((c) => ![200, 429, 504].includes(c.status)).length,
    answeredMaxMs: answered.length > 0 ? Math.max(...answered) : null,
    refusedP50Ms: refused.length > 0 ? round1(percentile(refused, 50)) : null,
    refusedMaxMs: refused.length > 0 ? Math.max(...refused) : null,
    apiRssMiB: round1(rss.api),
    controllerRssMiB: round1(rss.controller),
  };
}

async function call(apiUrl: string): Promise<Call> {
  const hello = WORKLOADS.hello;
  const began = performance.now();
  const { status, body } = await postExecute(apiUrl, hello.script);
  const right = status === 200 && body.success === true && hello.check(body.result, body.stdout ?? "") === undefined;
  return { status, right, ms: Math.round(performance.now() - began) };
}

/** Waits until no run of the namespace is left unfinished, so the next burst starts from an idle node. */
async function drained(ctx: BenchContext, timeoutMs: number): Promise<void> {
  const custom = ctx.kc.makeApiClient(CustomObjectsApi);
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(1000)) {
    const { items } = await custom.listNamespacedCustomObject({ ...RUNS, namespace: ctx.namespace }) as { items: ScriptRun[] };
    if (items.every((run) => isFinished(run.status?.phase))) return;
  }
  throw new Error("The runs of an overload burst did not finish within their drain time");
}

export async function measureOverload(ctx: BenchContext, sizes: readonly number[], warmup: number,
  pids: { api: number; controller: number }, say: (line: string) => void): Promise<Burst[]> {
  const bursts: Burst[] = [];
  for (let i = 0; i < warmup; i += 4) await Promise.all(Array.from({ length: Math.min(4, warmup - i) }, () => call(ctx.apiUrl)));
  for (const size of sizes) {
    const { result: calls, peakMiB } = await peakRssDuring(pids, () => Promise.all(Array.from({ length: size }, () => call(ctx.apiUrl))));
    const burst = tally(calls, peakMiB);
    say(`Overload: ${size} concurrent /execute: ${burst.right} right, ${burst.wrong} wrong, ${burst.refused} refused (429), ` +
      `${burst.timedOut} timed out (504), ${burst.other} other; API peak RSS ${burst.apiRssMiB} MiB`);
    bursts.push(burst);
    await drained(ctx, 600_000);
  }
  return bursts;
}

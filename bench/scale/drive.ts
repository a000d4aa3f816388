// Phase 1 of `make scale`: many ScriptRuns sent through POST /runs, at most a fixed number
// unfinished at once, each followed to its end by a watch of the namespace's runs (the informer
// cache the controller and the API use: a time is when the apiserver's event arrived).
import { CustomObjectsApi, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { RUNS, listInPages, runsPath } from "../../core/kube.js";
import type { Logger } from "../../core/log.js";
import { WatchedCache } from "../../core/watchedCache.js";
import { type ScriptRun, isFinished } from "../../crds/schema.js";
import { WORKLOADS } from "../workload.js";

export interface DriveOptions {
  apiUrl: string;
  runtime: string;
  runs: number;
  /** The most runs sent and not yet seen finished. */
  inFlight: number;
  /** HTTP clients sending POST /runs. */
  senders: number;
  /** With runs unfinished, how long without any run finishing before they are declared lost. */
  stallMs: number;
  signal: AbortSignal;
  /** Told how far the runs are every PROGRESS_MS. */
  say: (line: string) => void;
}

const PROGRESS_MS = 10_000;

/** One run as the driver saw it; times are performance.now(). */
export interface RunRecord {
  sentAt: number;
  finishedAt?: number;
  /** Why its outcome is not the hello script's success, when it is not. */
  wrong?: string;
  /** The watch saw it deleted before it finished. */
  vanished?: boolean;
}

export interface Drive {
  sent: number;
  /** Answers to POST /runs by HTTP status (a failed request is "error"). */
  answers: Record<string, number>;
  records: Map<string, RunRecord>;
  /** From the first run sent until the last one seen finished (or the stall). */
  elapsedMs: number;
}

/** Why a finished run is not the hello script's success, or undefined when it is. */
export function wrongOutcome(run: ScriptRun): string | undefined {
  const status = run.status;
  if (status?.phase !== "Succeeded") return `${status?.phase}: ${status?.error?.type ?? "?"}: ${(status?.error?.message ?? "").slice(0, 200)}`;
  return WORKLOADS.hello.check(status.result, status.stdout ?? "");
}

/** A counting semaphore: the in-flight cap. */
class Slots {
  private waiting: Array<() => void> = [];
  constructor(private free: number) {}
  acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

export async function driveRuns(kc: KubeConfig, namespace: string, options: DriveOptions, log: Logger): Promise<Drive> {
  const records = new Map<string, RunRecord>();
  /** Runs the watch saw finish before their POST was answered. */
  const early = new Map<string, { at: number; run: ScriptRun }>();
  const answers: Record<string, number> = {};
  const slots = new Slots(options.inFlight);
  let lastProgress = performance.now();
  let open = 0;
  let wake = () => {};

  const finish = (record: RunRecord, at: number, run: ScriptRun | undefined) => {
    if (record.finishedAt !== undefined || record.vanished) return;
    if (run) {
      record.finishedAt = at;
      const wrong = wrongOutcome(run);
      if (wrong !== undefined) record.wrong = wrong;
    } else {
      record.vanished = true;
    }
    lastProgress = at;
    open--;
    slots.release();
    wake();
  };
  const custom = kc.makeApiClient(CustomObjectsApi);
  // Typed as what client-node's informer hands over (timestamps arrive as strings).
  const watch = new WatchedCache<KubernetesObject>(kc, {
    what: "scriptruns", path: runsPath(namespace),
    list: () => listInPages((page) => custom.listNamespacedCustomObject({ ...RUNS, namespace, ...page })),
  }, {
    changed: (obj) => {
      const run = obj as unknown as ScriptRun;
      if (!isFinished(run.status?.phase)) return;
      const at = performance.now();
      const record = records.get(run.metadata.name ?? "");
      if (record) finish(record, at, run);
      else early.set(run.metadata.name ?? "", { at, run });
    },
    deleted: (obj) => {
      const record = records.get(obj.metadata?.name ?? "");
      if (record) finish(record, performance.now(), undefined);
    },
  }, log);
  await watch.start();

  const start = performance.now();
  let sent = 0;
  let finishedBefore = 0;
  const progress = setInterval(() => {
    const finished = records.size - open;
    options.say(`  ${Math.round((performance.now() - start) / 1000)} s: ${sent} sent, ${finished} finished ` +
      `(${Math.round((finished - finishedBefore) / (PROGRESS_MS / 1000))}/s), ${open} unfinished`);
    finishedBefore = finished;
  }, PROGRESS_MS);
  const sender = async () => {
    for (;;) {
      await slots.acquire();
      if (sent >= options.runs || options.signal.aborted) {
        slots.release();
        return;
      }
      sent++;
      const sentAt = performance.now();
      const { answer, name } = await post(options);
      answers[answer] = (answers[answer] ?? 0) + 1;
      if (name === undefined) {
        slots.release();
        continue;
      }
      const record: RunRecord = { sentAt };
      records.set(name, record);
      open++;
      const seen = early.get(name);
      if (seen) {
        early.delete(name);
        finish(record, seen.at, seen.run);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.senders }, sender));
    while (open > 0 && performance.now() - lastProgress < options.stallMs && !options.signal.aborted) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 1000);
      });
    }
  } finally {
    clearInterval(progress);
    await watch.stop();
  }
  const ends = [...records.values()].flatMap((r) => (r.finishedAt !== undefined ? [r.finishedAt] : []));
  const end = open > 0 ? performance.now() : Math.max(start, ...ends);
  return { sent, answers, records, elapsedMs: end - start };
}

/** POST /runs of the hello script on the runtime: the answer's status ("error" when there was
 * none) and, when it was accepted (202), the run's name. */
async function post(options: DriveOptions): Promise<{ answer: string; name?: string }> {
  try {
    const response = await fetch(`${options.apiUrl}/runs`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ script: WORKLOADS.hello.script, runtime: options.runtime }),
    });
    const body = await response.json() as { name?: string };
    return { answer: String(response.status), ...(response.status === 202 && body.name ? { name: body.name } : {}) };
  } catch {
    return { answer: "error" };
  }
}

// Phase 2 of `make scale`: a crowd of callers waiting on POST /execute at once, all on the fake
// nodes' runtime. Whether every one was answered (by HTTP status), and what the crowd cost the API.
import { type Burst, tally } from "../overload.js";
import { postExecute } from "../paths.js";
import { peakRssDuring } from "../processes.js";
import { WORKLOADS } from "../workload.js";
import { treeCpuMs } from "./cpu.js";

export interface Callers extends Burst {
  /** Answers by HTTP status ("error": the request got no answer). */
  answers: Record<string, number>;
  /** The API's errors by status and type (`503 cluster_unavailable`): how many, and the first message. */
  errors: Record<string, { count: number; message: string }>;
  /** From the first call sent until the last one answered. */
  elapsedMs: number;
  apiCpuMs: number;
  controllerCpuMs: number;
}

export interface Call {
  status: number;
  answer: string;
  right: boolean;
  ms: number;
  /** The API's error, on an answer other than 200. */
  error?: { type: string; message: string };
}

/** The calls' answers by status, and their errors by status and type. */
export function countAnswers(calls: Call[]): Pick<Callers, "answers" | "errors"> {
  const answers: Callers["answers"] = {};
  const errors: Callers["errors"] = {};
  for (const { answer, status, error } of calls) {
    answers[answer] = (answers[answer] ?? 0) + 1;
    if (!error) continue;
    const kind = (errors[`${status} ${error.type}`] ??= { count: 0, message: error.message });
    kind.count++;
  }
  return { answers, errors };
}

async function call(apiUrl: string, runtime: string): Promise<Call> {
  const hello = WORKLOADS.hello;
  const began = performance.now();
  try {
    const { status, body } = await postExecute(apiUrl, hello.script, runtime);
    const right = status === 200 && body.success === true && hello.check(body.result, body.stdout ?? "") === undefined;
    const error = status !== 200 && body.error ? { type: body.error.type ?? "", message: body.error.message ?? "" } : undefined;
    return { status, answer: String(status), right, ms: Math.round(performance.now() - began), ...(error ? { error } : {}) };
  } catch {
    return { status: 0, answer: "error", right: false, ms: Math.round(performance.now() - began) };
  }
}

export async function measureCallers(apiUrl: string, runtime: string, count: number, pids: { api: number; controller: number }): Promise<Callers> {
  const cpuBefore = { api: treeCpuMs(pids.api), controller: treeCpuMs(pids.controller) };
  const start = performance.now();
  const { result: calls, peakMiB } = await peakRssDuring(pids, () => Promise.all(Array.from({ length: count }, () => call(apiUrl, runtime))));
  const elapsedMs = performance.now() - start;
  return {
    ...tally(calls, peakMiB),
    ...countAnswers(calls),
    elapsedMs: Math.round(elapsedMs),
    apiCpuMs: Math.round(treeCpuMs(pids.api) - cpuBefore.api),
    controllerCpuMs: Math.round(treeCpuMs(pids.controller) - cpuBefore.controller),
  };
}

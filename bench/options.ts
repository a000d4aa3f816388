// What `make bench` measures and how much of it, from BENCH_* environment variables. BENCH_QUICK=1
// changes the defaults to a run of a few minutes; any variable set explicitly wins over both.
import { z } from "zod";

export const PATHS = ["execute", "scriptrun", "job", "direct", "warm-execute", "warm-scriptrun"] as const;
export type PathName = (typeof PATHS)[number];
/** The paths that run on the bench's warm runtime (each run claims a pod of its pool). */
export const WARM_PATHS: readonly PathName[] = ["warm-execute", "warm-scriptrun"];
export const isWarmPath = (path: PathName) => WARM_PATHS.includes(path);

export const WORKLOAD_NAMES = ["hello", "print", "numpy"] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

export interface BenchOptions {
  quick: boolean;
  /** Runs per path, script and concurrency; 0 skips the latency batches (and their warm-up). */
  runs: number;
  concurrency: number[];
  paths: PathName[];
  workloads: WorkloadName[];
  /** Checks per concurrency, through the API and straight to the preflight client. */
  preflightRuns: number;
  /** 0 skips the sustained-throughput phase and the bare pod churn measured beside it. */
  throughputSeconds: number;
  throughputConcurrency: number;
  /** Sizes of the concurrent /execute bursts of the overload phase; empty skips it. */
  overload: number[];
  /** /execute calls (4 at a time) before the bursts, so the API knows the rate runs finish at. */
  overloadWarmup: number;
  /** Finished ScriptRuns in the controller's cache for the memory figure; 0 skips it. */
  fixtureRuns: number;
  /** Pods of the bench's warm runtime's pool (its warm paths, burst and refill); 0 skips everything warm. */
  warmPool: number;
  /** What a warm latency batch's run waits for: a ready pod ("ready"); the whole pool ready, so
   * that no refill is under way when it starts ("full"); or that and then QUIET_MS more, so that
   * the pods of the runs before have gone and the new ones settled ("quiet"). */
  warmWait: "ready" | "full" | "quiet";
  /** How many times the pool's refill (a claim → full again) is timed. */
  warmRefills: number;
  /** Seconds over which an idle pool pod's CPU use is averaged. */
  warmIdleSeconds: number;
  /** Where latest.json and the chart go. */
  outDir: string;
}

const FULL = { runs: "30", concurrency: "1,4,16", preflightRuns: "200", throughputSeconds: "60", throughputConcurrency: "16", fixtureRuns: "10000",
  overload: "200,500", overloadWarmup: "20", warmRefills: "5", warmIdleSeconds: "30" };
const QUICK = { runs: "5", concurrency: "1,4", preflightRuns: "40", throughputSeconds: "15", throughputConcurrency: "8", fixtureRuns: "1000",
  overload: "50", overloadWarmup: "8", warmRefills: "3", warmIdleSeconds: "20" };

const count = (min: number) => z.coerce.number().int().min(min);
const listOf = <T extends string>(values: readonly [T, ...T[]]) =>
  z.string().transform((v) => v.split(",").map((s) => s.trim()).filter((s) => s !== "")).pipe(z.array(z.enum(values)).min(1));

export class BenchOptionsError extends Error {}

export function benchOptions(env: Record<string, string | undefined>): BenchOptions {
  const quick = ["1", "true", "yes"].includes(env.BENCH_QUICK ?? "");
  const d = quick ? QUICK : FULL;
  const schema = z.object({
    BENCH_RUNS: count(0).default(Number(d.runs)),
    BENCH_CONCURRENCY: z.string().default(d.concurrency)
      .transform((v) => v.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number))
      .pipe(z.array(z.number().int().min(1)).min(1)),
    BENCH_PATHS: listOf(PATHS).default([...PATHS]),
    BENCH_SCRIPTS: listOf(WORKLOAD_NAMES).default([...WORKLOAD_NAMES]),
    BENCH_PREFLIGHT_RUNS: count(0).default(Number(d.preflightRuns)),
    BENCH_THROUGHPUT_SECONDS: count(0).default(Number(d.throughputSeconds)),
    BENCH_THROUGHPUT_CONCURRENCY: count(1).default(Number(d.throughputConcurrency)),
    BENCH_FIXTURE_RUNS: count(0).default(Number(d.fixtureRuns)),
    BENCH_OVERLOAD: z.string().default(d.overload)
      .transform((v) => v.split(",").map((s) => s.trim()).filter((s) => s !== "" && s !== "0").map(Number))
      .pipe(z.array(z.number().int().min(1))),
    BENCH_OVERLOAD_WARMUP: count(0).default(Number(d.overloadWarmup)),
    BENCH_WARM_POOL: count(0).max(50).default(4),
    BENCH_WARM_WAIT: z.enum(["ready", "full", "quiet"]).default("quiet"),
    BENCH_WARM_REFILLS: count(1).default(Number(d.warmRefills)),
    BENCH_WARM_IDLE_SECONDS: count(1).default(Number(d.warmIdleSeconds)),
    BENCH_OUT: z.string().min(1).default("bench/results"),
  });
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith("BENCH_") && v !== "")));
  if (!parsed.success) {
    throw new BenchOptionsError(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
  }
  const o = parsed.data;
  // Without a pool there is nothing warm to measure.
  const paths = [...new Set(o.BENCH_PATHS)].filter((p) => o.BENCH_WARM_POOL > 0 || !isWarmPath(p));
  if (paths.length === 0) throw new BenchOptionsError("BENCH_PATHS: only warm paths, with BENCH_WARM_POOL=0");
  return {
    quick,
    runs: o.BENCH_RUNS,
    concurrency: [...new Set(o.BENCH_CONCURRENCY)],
    paths,
    workloads: [...new Set(o.BENCH_SCRIPTS)],
    preflightRuns: o.BENCH_PREFLIGHT_RUNS,
    throughputSeconds: o.BENCH_THROUGHPUT_SECONDS,
    throughputConcurrency: o.BENCH_THROUGHPUT_CONCURRENCY,
    fixtureRuns: o.BENCH_FIXTURE_RUNS,
    overload: o.BENCH_OVERLOAD,
    overloadWarmup: o.BENCH_OVERLOAD_WARMUP,
    warmPool: o.BENCH_WARM_POOL,
    warmWait: o.BENCH_WARM_WAIT,
    warmRefills: o.BENCH_WARM_REFILLS,
    warmIdleSeconds: o.BENCH_WARM_IDLE_SECONDS,
    outDir: o.BENCH_OUT,
  };
}

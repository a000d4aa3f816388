// What `make scale` runs, from SCALE_* environment variables (bench/README.md, "make scale").
import { z } from "zod";

export interface ScaleSettings {
  nodes: number;
  runs: number;
  inFlight: number;
  senders: number;
  callers: number;
  stallSeconds: number;
  outDir: string;
  /** What reconciles the runs: the operator, or the floor (floor.ts) to measure beside it. */
  controller: Controller;
}

export const CONTROLLERS = ["operator", "floor"] as const;
export type Controller = (typeof CONTROLLERS)[number];

const count = (min: number) => z.coerce.number().int().min(min);

const SCHEMA = z.object({
  SCALE_NODES: count(1).max(1000).default(100),
  SCALE_RUNS: count(1).default(10_000),
  SCALE_IN_FLIGHT: count(1).default(500),
  SCALE_SENDERS: count(1).default(32),
  SCALE_CALLERS: count(0).default(1000),
  SCALE_STALL_SECONDS: count(10).default(120),
  SCALE_OUT: z.string().min(1).default("bench/results"),
  SCALE_CONTROLLER: z.enum(CONTROLLERS).default("operator"),
});

export function scaleSettings(env: Record<string, string | undefined>): ScaleSettings {
  const parsed = SCHEMA.safeParse(Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith("SCALE_") && v !== "")));
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
  const o = parsed.data;
  return {
    nodes: o.SCALE_NODES, runs: o.SCALE_RUNS, inFlight: o.SCALE_IN_FLIGHT, senders: o.SCALE_SENDERS,
    callers: o.SCALE_CALLERS, stallSeconds: o.SCALE_STALL_SECONDS, outDir: o.SCALE_OUT, controller: o.SCALE_CONTROLLER,
  };
}

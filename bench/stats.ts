// Percentiles and summaries of latency samples (milliseconds).

export interface Summary {
  n: number;
  p50: number;
  p95: number;
  mean: number;
  min: number;
  max: number;
}

/** The p-th percentile (0–100) by linear interpolation between the closest ranks, as numpy's
 * default: the p50 of [1, 2, 3, 4] is 2.5, its p95 is 3.85. NaN for no samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  if (p < 0 || p > 100) throw new RangeError(`percentile ${p} is outside 0–100`);
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const below = Math.floor(rank);
  const above = Math.ceil(rank);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (rank - below);
}

export function mean(samples: readonly number[]): number {
  return samples.length === 0 ? Number.NaN : samples.reduce((sum, x) => sum + x, 0) / samples.length;
}

/** Rounded to 0.1 ms: the clocks and the network are not finer than that. */
export function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

export function summarize(samples: readonly number[]): Summary {
  return {
    n: samples.length,
    p50: round1(percentile(samples, 50)),
    p95: round1(percentile(samples, 95)),
    mean: round1(mean(samples)),
    min: round1(Math.min(...samples)),
    max: round1(Math.max(...samples)),
  };
}

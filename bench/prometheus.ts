// Reading the controller's and the API's /metrics (Prometheus text format) and differencing two
// scrapes: what a batch of runs added to each histogram's count and sum.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/;
const LABEL = /\s*([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/y;

function unescape(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const at = LABEL.lastIndex;
    const match = LABEL.exec(text);
    if (!match) throw new Error(`Unreadable labels at '${text.slice(at)}'`);
    labels[match[1]!] = unescape(match[2]!);
  }
  return labels;
}

/** Every sample of a scrape; comments and blank lines are skipped. */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = LINE.exec(line);
    if (!match) throw new Error(`Unreadable metrics line '${line}'`);
    samples.push({ name: match[1]!, labels: match[2] ? parseLabels(match[2]) : {}, value: Number(match[3]) });
  }
  return samples;
}

const matches = (labels: Record<string, string>, want: Record<string, string>) =>
  Object.entries(want).every(([k, v]) => labels[k] === v);

/** The sum of every sample named `name` whose labels include `want`; 0 when there is none. */
export function total(samples: readonly Sample[], name: string, want: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && matches(s.labels, want)).reduce((sum, s) => sum + s.value, 0);
}

export interface HistogramDelta {
  /** Observations between the two scrapes. */
  count: number;
  /** Their mean, in milliseconds (NaN when there were none). */
  meanMs: number;
}

/** What happened to histogram `name` (label sets including `want`) between two scrapes. */
export function histogramDelta(before: readonly Sample[], after: readonly Sample[], name: string,
  want: Record<string, string> = {}): HistogramDelta {
  const count = total(after, `${name}_count`, want) - total(before, `${name}_count`, want);
  const sum = total(after, `${name}_sum`, want) - total(before, `${name}_sum`, want);
  return { count, meanMs: count > 0 ? (sum / count) * 1000 : Number.NaN };
}

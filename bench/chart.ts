// The stage breakdown as an SVG of stacked horizontal bars: one bar per path, script and
// concurrency, one coloured segment per stage (mean milliseconds), the total at the bar's end.
// Plain SVG text, so the chart is readable in a browser, a pull request or an editor.

export interface Segment {
  name: string;
  ms: number;
}

export interface ChartRow {
  /** Rows of one group are drawn under its heading. */
  group: string;
  label: string;
  segments: Segment[];
}

export interface Chart {
  title: string;
  subtitle: string;
  rows: ChartRow[];
}

const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
  "#bab0ac", "#637939", "#d37295", "#1b9e77", "#d95f02", "#7570b3", "#e7298a"];
const WIDTH = 1000;
const LABEL_WIDTH = 250;
const PLOT_WIDTH = 600;
const ROW_HEIGHT = 20;
const BAR_HEIGHT = 14;
const LEGEND_ROW = 18;
const FONT = "font-family=\"sans-serif\" font-size=\"12\"";
const TITLE_FONT = "font-family=\"sans-serif\" font-size=\"16\" font-weight=\"bold\"";

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&apos;" })[c]!);
}

/** A step of 1, 2 or 5 times a power of ten, so that about `ticks` of them span `max`. */
export function niceStep(max: number, ticks = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= raw)!;
}

/** A segment below zero is noise of subtracting one measurement from another: drawn as nothing. */
const drawn = (ms: number) => (Number.isFinite(ms) && ms > 0 ? ms : 0);

export function renderChart(chart: Chart): string {
  const names = [...new Set(chart.rows.flatMap((row) => row.segments.map((s) => s.name)))];
  const color = new Map(names.map((name, i) => [name, PALETTE[i % PALETTE.length]!]));
  const max = Math.max(1, ...chart.rows.map((row) => row.segments.reduce((sum, s) => sum + drawn(s.ms), 0)));
  const step = niceStep(max);
  const axisMax = Math.ceil(max / step) * step;
  const scale = PLOT_WIDTH / axisMax;
  const out: string[] = [];

  out.push(`<text x="12" y="24" ${TITLE_FONT}>${escapeXml(chart.title)}</text>`);
  out.push(`<text x="12" y="44" ${FONT} fill="#555">${escapeXml(chart.subtitle)}</text>`);
  // The legend, wrapped to the chart's width.
  let x = 12;
  let y = 64;
  for (const name of names) {
    const width = 24 + name.length * 7;
    if (x + width > WIDTH - 12) {
      x = 12;
      y += LEGEND_ROW;
    }
    out.push(`<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${color.get(name)}"/>`);
    out.push(`<text x="${x + 16}" y="${y}" ${FONT}>${escapeXml(name)}</text>`);
    x += width;
  }
  y += 16;
  const plotTop = y;
  let group: string | undefined;
  for (const row of chart.rows) {
    if (row.group !== group) {
      group = row.group;
      y += ROW_HEIGHT;
      out.push(`<text x="12" y="${y - 4}" ${FONT} font-weight="bold">${escapeXml(group)}</text>`);
    }
    out.push(`<text x="${LABEL_WIDTH - 8}" y="${y + BAR_HEIGHT - 3}" ${FONT} text-anchor="end">${escapeXml(row.label)}</text>`);
    let at = LABEL_WIDTH;
    for (const segment of row.segments) {
      const width = drawn(segment.ms) * scale;
      if (width === 0) continue;
      out.push(`<rect x="${at.toFixed(1)}" y="${y}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" fill="${color.get(segment.name)}">` +
        `<title>${escapeXml(`${segment.name}: ${Math.round(segment.ms)} ms`)}</title></rect>`);
      at += width;
    }
    const totalMs = row.segments.reduce((sum, s) => sum + drawn(s.ms), 0);
    out.push(`<text x="${(at + 6).toFixed(1)}" y="${y + BAR_HEIGHT - 3}" ${FONT}>${Math.round(totalMs)} ms</text>`);
    y += ROW_HEIGHT;
  }
  // The axis: a gridline and a label every step.
  for (let tick = 0; tick <= axisMax; tick += step) {
    const tx = (LABEL_WIDTH + tick * scale).toFixed(1);
    out.unshift(`<line x1="${tx}" y1="${plotTop}" x2="${tx}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${tx}" y="${y + 16}" ${FONT} text-anchor="middle">${tick}</text>`);
  }
  out.push(`<text x="${LABEL_WIDTH + PLOT_WIDTH / 2}" y="${y + 34}" ${FONT} text-anchor="middle">milliseconds (mean per run)</text>`);
  const height = y + 48;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">\n` +
    `<rect width="${WIDTH}" height="${height}" fill="white"/>\n${out.join("\n")}\n</svg>\n`;
}

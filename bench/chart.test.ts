import assert from "node:assert/strict";
import { type Chart, escapeXml, niceStep, renderChart } from "./chart.js";

const rects = (svg: string) => [...svg.matchAll(/<rect x="([\d.]+)" y="(\d+)" width="([\d.]+)" height="14" fill="(#\w+)"><title>([^<]*)<\/title>/g)]
  .map((m) => ({ x: Number(m[1]), y: Number(m[2]), width: Number(m[3]), fill: m[4]!, title: m[5]! }));

const chart: Chart = {
  title: "Stages",
  subtitle: "hello, concurrency 1",
  rows: [
    { group: "hello, concurrency 1", label: "A /execute", segments: [{ name: "queue", ms: 100 }, { name: "pod", ms: 300 }] },
    { group: "hello, concurrency 1", label: "B ScriptRun", segments: [{ name: "pod", ms: 200 }, { name: "noise", ms: -5 }] },
  ],
};

describe("the stage chart", () => {
  it("draws each segment with a width proportional to its milliseconds, end to end", () => {
    const [queue, podA, podB] = rects(renderChart(chart));
    assert.ok(queue && podA && podB);
    assert.equal(podA.x, queue.x + queue.width);
    assert.ok(Math.abs(podA.width - 3 * queue.width) < 0.2);
    assert.ok(Math.abs(podB.width - 2 * queue.width) < 0.2);
    assert.equal(podA.y, queue.y);
    assert.ok(podB.y > podA.y);
    assert.equal(podA.fill, podB.fill);
    assert.notEqual(queue.fill, podA.fill);
    assert.equal(podA.title, "pod: 300 ms");
  });

  it("draws a negative segment as nothing and leaves it out of the total", () => {
    const svg = renderChart(chart);
    assert.equal(rects(svg).length, 3);
    assert.match(svg, />400 ms</);
    assert.match(svg, />200 ms</);
  });

  it("lists each stage once in the legend, in the order they first appear", () => {
    const legend = [...renderChart(chart).matchAll(/<rect x="\d+" y="\d+" width="12" height="12" fill="#\w+"\/>\n<text [^>]*>([^<]*)</g)]
      .map((m) => m[1]);
    assert.deepEqual(legend, ["queue", "pod", "noise"]);
  });

  it("is one SVG document with its text escaped", () => {
    const svg = renderChart({ ...chart, title: "A <b> & \"c\"" });
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="1000" height="\d+" viewBox="0 0 1000 \d+">/);
    assert.ok(svg.trimEnd().endsWith("</svg>"));
    assert.match(svg, /A &lt;b&gt; &amp; &quot;c&quot;/);
    assert.equal(escapeXml("it's"), "it&apos;s");
    for (const tag of svg.match(/<[a-z]+ [^>]*>/g) ?? []) {
      const names = [...tag.matchAll(/ ([a-z-]+)="/g)].map((m) => m[1]);
      assert.equal(new Set(names).size, names.length, `an attribute repeats in ${tag}`);
    }
  });

  it("labels the axis in steps of 1, 2 or 5 times a power of ten", () => {
    assert.equal(niceStep(400), 100);
    assert.equal(niceStep(2300), 500);
    assert.equal(niceStep(7), 2);
    assert.equal(niceStep(0), 1);
    const ticks = [...renderChart(chart).matchAll(/text-anchor="middle">(\d+)</g)].map((m) => Number(m[1]));
    assert.deepEqual(ticks, [0, 100, 200, 300, 400]);
  });
});

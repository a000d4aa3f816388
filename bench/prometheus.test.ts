import assert from "node:assert/strict";
import { histogramDelta, parseMetrics, total } from "./prometheus.js";

const BEFORE = `# HELP scriptrun_stage_duration_seconds Latency of each stage of a run
# TYPE scriptrun_stage_duration_seconds histogram
scriptrun_stage_duration_seconds_bucket{le="0.005",stage="queue"} 3
scriptrun_stage_duration_seconds_sum{stage="queue"} 0.25
scriptrun_stage_duration_seconds_count{stage="queue"} 10
scriptrun_stage_duration_seconds_sum{stage="preflight"} 0.1
scriptrun_stage_duration_seconds_count{stage="preflight"} 2
scriptrun_api_request_duration_seconds_sum{method="POST",route="/execute",status="200"} 3
scriptrun_api_request_duration_seconds_count{method="POST",route="/execute",status="200"} 2
process_resident_memory_bytes 52428800
`;

const AFTER = `scriptrun_stage_duration_seconds_sum{stage="queue"} 0.75
scriptrun_stage_duration_seconds_count{stage="queue"} 20
scriptrun_stage_duration_seconds_sum{stage="preflight"} 0.1
scriptrun_stage_duration_seconds_count{stage="preflight"} 2
scriptrun_api_request_duration_seconds_sum{method="POST",route="/execute",status="200"} 6
scriptrun_api_request_duration_seconds_count{method="POST",route="/execute",status="200"} 4
scriptrun_api_request_duration_seconds_sum{method="POST",route="/execute",status="504"} 60
scriptrun_api_request_duration_seconds_count{method="POST",route="/execute",status="504"} 1
scriptrun_api_request_duration_seconds_count{method="GET",route="/runs/:name",status="200"} 9
`;

describe("reading Prometheus scrapes", () => {
  it("parses names, labels (with escapes) and values, skipping comments", () => {
    const samples = parseMetrics(`# TYPE x counter\nx{a="1",b="say \\"hi\\"\\n"} 2.5\ny 7 1700000000000\n\n`);
    assert.deepEqual(samples, [
      { name: "x", labels: { a: "1", b: 'say "hi"\n' }, value: 2.5 },
      { name: "y", labels: {}, value: 7 },
    ]);
  });

  it("refuses a line it cannot read rather than guessing", () => {
    assert.throws(() => parseMetrics("x{a=1} 2"), /Unreadable/);
  });

  it("adds up the samples whose labels include the ones asked for", () => {
    const after = parseMetrics(AFTER);
    assert.equal(total(after, "scriptrun_api_request_duration_seconds_count", { route: "/execute" }), 5);
    assert.equal(total(after, "scriptrun_api_request_duration_seconds_count", { route: "/execute", status: "200" }), 4);
    assert.equal(total(parseMetrics(BEFORE), "process_resident_memory_bytes"), 52428800);
    assert.equal(total(after, "absent"), 0);
  });

  it("gives a histogram's new observations and their mean in milliseconds", () => {
    const before = parseMetrics(BEFORE);
    const after = parseMetrics(AFTER);
    assert.deepEqual(histogramDelta(before, after, "scriptrun_stage_duration_seconds", { stage: "queue" }), { count: 10, meanMs: 50 });
    assert.deepEqual(histogramDelta(before, after, "scriptrun_api_request_duration_seconds", { route: "/execute", status: "200" }),
      { count: 2, meanMs: 1500 });
    const idle = histogramDelta(before, after, "scriptrun_stage_duration_seconds", { stage: "preflight" });
    assert.equal(idle.count, 0);
    assert.ok(Number.isNaN(idle.meanMs));
  });
});

import assert from "node:assert/strict";
import { readPromQL, selectorsOf } from "./promql.js";

describe("the selectors of a PromQL expression (test/promql.ts)", () => {
  it("are each selector's metric with the labels it matches on, never a function, an aggregation, a keyword or a grouping label", () => {
    const expr = `histogram_quantile(0.95, sum by (le, stage) (rate(scriptrun_stage_duration_seconds_bucket{namespace=~"a", stage!="queue"}[5m])))
      > on (instance) group_left (pod) max without (job) (up) or absent(quoted{"odd.label"="x"}) unless {__name__="by_name", job="j"} offset 5m
      and bool_metric * -sum(rate(rate[1m:30s]))`;
    assert.deepEqual(selectorsOf(expr), [
      { metric: "scriptrun_stage_duration_seconds_bucket", labels: ["namespace", "stage"] },
      { metric: "up", labels: [] },
      { metric: "quoted", labels: ["odd.label"] },
      { metric: "by_name", labels: ["job"] },
      { metric: "bool_metric", labels: [] },
      { metric: "rate", labels: [] },
    ]);
  });

  it("come with each aggregation's `by` labels and the metrics it aggregates, not `without` or matching labels", () => {
    const expr = `sum by (runtime) (rate(a_total[5m])) / on (instance) group_left sum without (pod) (b)
      + max by (le, stage) (c_bucket and on (instance) d)`;
    assert.deepEqual(readPromQL(expr).groupings, [
      { labels: ["runtime"], metrics: ["a_total"] },
      { labels: ["le", "stage"], metrics: ["c_bucket", "d"] },
    ]);
  });

  it("take a metric named in quotes, as Prometheus 3 allows", () => {
    assert.deepEqual(selectorsOf(`rate({"a.dotted.metric", job="x"}[5m])`), [{ metric: "a.dotted.metric", labels: ["job"] }]);
  });

  it("refuse an expression that is not PromQL", () => {
    for (const expr of ["sum(rate(scriptrun_runs_finished_total[5m])", "rate(x[$__rate_interval])", "x{job=}", "sum by (le) x"]) {
      assert.throws(() => selectorsOf(expr), /Not PromQL/, expr);
    }
  });

  it("refuse a selector that names no metric, or names metrics by a pattern", () => {
    assert.throws(() => selectorsOf(`count({job="x"})`), /names no metric/);
    assert.throws(() => selectorsOf(`{__name__=~"scriptrun_.*"}`), /by pattern/);
  });
});

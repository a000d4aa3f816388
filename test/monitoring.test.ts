// The chart's dashboard and alerts (charts/scriptrun/dashboards, charts/scriptrun/rules) against what
// the processes export: every metric a panel, a dashboard variable or an alert reads is one the
// controller or the API registers, built as their main.ts builds them, and every label it matches on
// is one that metric carries or one Prometheus gives each target (the PromQL parsed with Prometheus'
// grammar, test/promql.ts). The rule file passes `promtool check rules`, and its alerts fire when
// they should and only then (`promtool test rules` of test/monitoring/alerts.test.yaml), with a
// promtool built from its Go module (cluster/lib/promtool.sh).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Registry } from "prom-client";
import { parse } from "yaml";
import { createApp } from "../api/app.js";
import { NoAuth } from "../api/auth.js";
import { apiRegistry } from "../api/metrics.js";
import { FakePodLogs, FakeRunStore, testConfig } from "../api/testkit.js";
import { Waiter } from "../api/waiter.js";
import { silentLogger } from "../core/log.js";
import { PreflightClient } from "../core/preflight.js";
import { testRuntimes } from "../core/testkit.js";
import { createMetrics } from "../operator/metrics.js";
import { type PromQL, readPromQL, selectorsOf } from "./promql.js";

const run = promisify(execFile);
const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const chart = join(repo, "charts", "scriptrun");
const rulesFile = join(chart, "rules", "scriptrun.yaml");
const alertTests = join(repo, "test", "monitoring", "alerts.test.yaml");

interface Panel {
  title: string;
  targets?: Array<{ expr: string }>;
  panels?: Panel[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: string | { query: string } }> };
}
interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ alert?: string; record?: string; expr: string }> }>;
}
const dashboard = JSON.parse(readFileSync(join(chart, "dashboards", "scriptrun.json"), "utf8")) as Dashboard;
const rules = parse(readFileSync(rulesFile, "utf8")) as RuleFile;

// Labels Prometheus gives every series of a target it scrapes: job and instance always; namespace,
// service, pod, container and endpoint from the Prometheus Operator's ServiceMonitor.
const TARGET_LABELS = ["job", "instance", "namespace", "service", "pod", "container", "endpoint"];

/** A query, where it is, and the labels it needs besides those of its selectors. */
interface Query {
  where: string;
  expr: string;
  labels: string[];
}

/** Every PromQL query of the dashboard: panel targets, and the query variables' `label_values(selector, label)`. */
function dashboardQueries(): Query[] {
  const queries: Query[] = [];
  const walk = (panels: Panel[]) => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) queries.push({ where: `panel "${panel.title}"`, expr: target.expr, labels: [] });
      walk(panel.panels ?? []);
    }
  };
  walk(dashboard.panels);
  for (const variable of dashboard.templating.list.filter((v) => v.type === "query")) {
    const query = typeof variable.query === "string" ? variable.query : variable.query?.query ?? "";
    const labelValues = /^label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\)$/.exec(query);
    queries.push({ where: `variable $${variable.name}`, expr: labelValues?.[1] ?? query, labels: labelValues ? [labelValues[2]!] : [] });
  }
  return queries;
}

const ruleQueries = (): Query[] =>
  rules.groups.flatMap((group) => group.rules.map((rule) => ({ where: `rule ${rule.alert ?? rule.record}`, expr: rule.expr, labels: [] })));

/** Every series name a registry exports (a histogram's as its _bucket, _sum and _count), with its labels. */
async function exported(registry: Registry): Promise<Map<string, string[]>> {
  const series = new Map<string, string[]>();
  for (const [, name, type] of (await registry.metrics()).matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    // prom-client keeps a metric's label names on it, though its types do not show them.
    const labels = (registry.getSingleMetric(name!) as unknown as { labelNames?: string[] } | undefined)?.labelNames ?? [];
    if (type === "histogram") {
      series.set(`${name}_bucket`, [...labels, "le"]).set(`${name}_sum`, labels).set(`${name}_count`, labels);
    } else if (type === "summary") {
      series.set(name!, [...labels, "quantile"]).set(`${name}_sum`, labels).set(`${name}_count`, labels);
    } else {
      series.set(name!, labels);
    }
  }
  return series;
}

/** The controller's registry as operator/main.ts makes it, and the API's as api/main.ts makes it
 * (with every metric the app registers when it is built). */
async function exportedByBoth(): Promise<Map<string, string[]>> {
  const controller = await exported(createMetrics().registry);
  const registry = apiRegistry();
  const config = testConfig();
  const runs = new FakeRunStore();
  const waiter = new Waiter(runs, { maxWaits: config.maxConcurrentWaits, recheckMs: 1000, log: silentLogger() });
  createApp({ runs, waiter, podLogs: new FakePodLogs(), preflight: new PreflightClient(), runtimes: testRuntimes(), config, auth: new NoAuth(), registry, log: silentLogger() });
  const api = await exported(registry);
  for (const name of api.keys()) assert.ok(!controller.has(name), `${name} is exported by both`);
  return new Map([...controller, ...api]);
}

/** What is wrong with each query: not PromQL, a metric nobody exports, a label the metric does not
 * carry, or an aggregation `by` a label none of its metrics carries. */
function problems(queries: Query[], series: Map<string, string[]>): string[] {
  const found: string[] = [];
  const carries = (metric: string, label: string) => TARGET_LABELS.includes(label) || (series.get(metric) ?? []).includes(label);
  for (const { where, expr, labels } of queries) {
    // Grafana fills in its interval variables before Prometheus sees the query.
    let read: PromQL;
    try {
      read = readPromQL(expr.replace(/\$__(rate_interval|interval|range)\b/g, "5m"));
    } catch (err) {
      found.push(`${where}: ${(err as Error).message}`);
      continue;
    }
    for (const { labels: by, metrics } of read.groupings) {
      for (const label of by) {
        if (!metrics.some((metric) => carries(metric, label))) found.push(`${where}: aggregated by ${label}, which none of ${metrics.join(", ")} carries`);
      }
    }
    for (const selector of read.selectors) {
      const carried = series.get(selector.metric);
      if (!carried) {
        found.push(`${where}: ${selector.metric} is exported by neither the controller nor the API`);
        continue;
      }
      for (const label of [...selector.labels, ...labels]) {
        if (!carries(selector.metric, label)) found.push(`${where}: ${selector.metric} has no label ${label}`);
      }
    }
  }
  return found;
}

describe("the chart's dashboard and alerts, against the metrics the processes export", () => {
  let series: Map<string, string[]>;
  before(async () => {
    series = await exportedByBoth();
  });

  it("the dashboard reads only metrics the controller or the API exports, by labels they carry", () => {
    const queries = dashboardQueries();
    assert.ok(queries.length >= 20, `only ${queries.length} queries found`);
    assert.deepEqual(problems(queries, series), []);
  });

  it("the alerts read only metrics the controller or the API exports, by labels they carry", () => {
    assert.deepEqual(problems(ruleQueries(), series), []);
  });

  it("the dashboard shows runs by outcome, stages, queue depth and position, warm pools, API requests, leader and reconcile errors", () => {
    const read = new Set(dashboardQueries().flatMap((q) => selectorsOf(q.expr.replace(/\$__\w+/g, "5m")).map((s) => s.metric)));
    for (const metric of ["scriptrun_runs_finished_total", "scriptrun_stage_duration_seconds_bucket", "scriptrun_runs_queued",
      "scriptrun_queue_position_bucket", "scriptrun_warm_pods_ready", "scriptrun_runs_started_total", "scriptrun_api_requests_total",
      "scriptrun_controller_is_leader", "scriptrun_reconcile_errors_total"]) {
      assert.ok(read.has(metric), `no panel reads ${metric}`);
    }
  });

  it("the alerts are no leader, infrastructure errors, a growing queue, an empty warm pool and API 5xx, each with its runbook in the chart's README", () => {
    const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert));
    assert.deepEqual(alerts, ["ScriptRunNoLeader", "ScriptRunInfrastructureErrors", "ScriptRunQueueGrowing", "ScriptRunWarmPoolEmpty", "ScriptRunAPIErrors"]);
    const readme = readFileSync(join(chart, "README.md"), "utf8");
    for (const alert of alerts) assert.match(readme, new RegExp(`^#### ${alert}$`, "m"), `no runbook for ${alert}`);
  });
});

describe("the chart's alerting rules, checked by promtool", function () {
  // The first run on a machine builds promtool from its Go module; later ones find it in the cache.
  this.timeout(20 * 60_000);
  let promtool: string;
  before(async () => {
    promtool = (await run("bash", [join(repo, "cluster", "lib", "promtool.sh")], { maxBuffer: 1 << 20 })).stdout.trim();
  });

  it("pass `promtool check rules`", async () => {
    const { stdout } = await run(promtool, ["check", "rules", rulesFile]);
    assert.match(stdout, /SUCCESS: 5 rules found/);
  });

  it("fire when they should and only then (`promtool test rules` of test/monitoring/alerts.test.yaml)", async () => {
    try {
      await run(promtool, ["test", "rules", alertTests]);
    } catch (err) {
      const { stdout, stderr } = err as { stdout: string; stderr: string };
      assert.fail(`promtool test rules failed:\n${stdout}\n${stderr}`);
    }
  });
});

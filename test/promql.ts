// What a PromQL expression reads, found with Prometheus' own grammar (@prometheus-io/lezer-promql,
// the parser of Prometheus' web UI) rather than a pattern: a function, an aggregation, a keyword or a
// label in `by (...)` is never taken for a metric, and an expression that is not PromQL is refused.
import { parser } from "@prometheus-io/lezer-promql";

/** One vector selector: the metric it names and the labels it matches on. */
export interface Selector {
  metric: string;
  labels: string[];
}

/** One aggregation `by (labels)`, and the metrics of the selectors it aggregates. */
export interface Grouping {
  labels: string[];
  metrics: string[];
}

export interface PromQL {
  selectors: Selector[];
  groupings: Grouping[];
}

/** The text of a PromQL string literal ("...", '...' or `...`). */
function unquote(literal: string): string {
  const body = literal.slice(1, -1);
  return literal.startsWith("`") ? body : body.replace(/\\(.)/g, "$1");
}

/** The selectors and groupings of `expr`, in order; throws when `expr` does not parse, or when a
 * selector names no metric (`{job="x"}`, or `{__name__=~"..."}`: no one metric to check). */
export function readPromQL(expr: string): PromQL {
  const text = (node: { from: number; to: number }) => expr.slice(node.from, node.to);
  const selectors: Array<Selector & { at: number }> = [];
  const aggregations: Array<{ labels: string[]; from: number; to: number }> = [];
  let error: number | undefined;
  parser.parse(expr).iterate({
    enter(ref) {
      if (ref.type.isError) error ??= ref.from;
      if (ref.name === "AggregateExpr") {
        const modifier = ref.node.getChild("AggregateModifier");
        if (modifier?.getChild("By")) {
          const labels = modifier.getChild("GroupingLabels")?.getChildren("LabelName").map(text) ?? [];
          aggregations.push({ labels, from: ref.from, to: ref.to });
        }
      }
      if (ref.name !== "VectorSelector") return;
      const identifier = ref.node.getChild("Identifier");
      let metric = identifier ? text(identifier) : undefined;
      const labels: string[] = [];
      for (let child = ref.node.getChild("LabelMatchers")?.firstChild; child; child = child.nextSibling) {
        if (child.name === "QuotedLabelName") {
          // {"a.metric.name"}: a metric named in quotes, as Prometheus 3 allows.
          metric = unquote(text(child));
          continue;
        }
        const name = child.name === "UnquotedLabelMatcher" ? child.getChild("LabelName")
          : child.name === "QuotedLabelMatcher" ? child.getChild("QuotedLabelName") : null;
        if (!name) continue;
        const label = child.name === "QuotedLabelMatcher" ? unquote(text(name)) : text(name);
        if (label !== "__name__") {
          labels.push(label);
        } else if (text(child.getChild("MatchOp")!) === "=") {
          metric = unquote(text(child.getChild("StringLiteral")!));
        } else {
          throw new Error(`The selector ${text(ref.node)} matches metric names by pattern: name them in \`${expr}\``);
        }
      }
      if (metric === undefined) throw new Error(`The selector ${text(ref.node)} names no metric in \`${expr}\``);
      selectors.push({ metric, labels, at: ref.from });
    },
  });
  if (error !== undefined) throw new Error(`Not PromQL at character ${error}: \`${expr}\``);
  return {
    selectors: selectors.map(({ metric, labels }) => ({ metric, labels })),
    groupings: aggregations.map(({ labels, from, to }) =>
      ({ labels, metrics: selectors.filter((s) => s.at >= from && s.at < to).map((s) => s.metric) })),
  };
}

/** The vector selectors of `expr` (readPromQL). */
export const selectorsOf = (expr: string): Selector[] => readPromQL(expr).selectors;

// The Node.js process metrics both processes serve: prom-client's defaults, under each one's prefix.
import { type Registry, collectDefaultMetrics } from "prom-client";

/** How often the event loop's delay is sampled. prom-client's 10 ms is a timer firing 100 times a
 * second: 6 ms of CPU a second for an idle controller, 0.2 ms per run under make scale. */
const EVENT_LOOP_SAMPLE_MS = 100;

export function collectProcessMetrics(registry: Registry, prefix: string): void {
  collectDefaultMetrics({ register: registry, prefix, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
}

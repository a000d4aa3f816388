// What the node itself sustains: bare pods of the runner image, shaped as the controller's cold
// runner pod, running `python3 -c "print('hi')"` with no operator involved, each created, watched
// to completion, deleted and watched gone, by as many clients for as long as the throughput phase.
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { newRunName } from "../api/runNames.js";
import { API_VERSION, KIND, type ScriptRun } from "../crds/schema.js";
import { REQUEST_VOLUME, buildPod } from "../operator/podSpec.js";
import { runFor } from "./load.js";
import { type BenchContext, requestOf } from "./paths.js";
import { type Summary, summarize } from "./stats.js";
import type { ObjectWatch } from "./watch.js";
import { WORKLOADS } from "./workload.js";

/** Label of the bare pods instead of the controller's, so its informers never see them. */
export const BARE_LABELS = { "app.kubernetes.io/name": "scriptrun-bench-bare" };
export const BARE_COMMAND = ["python3", "-c", "print('hi')"];
const POD_TIMEOUT_MS = 180_000;

export interface Churn {
  seconds: number;
  clients: number;
  /** Pods created; completed (Succeeded, then deleted and seen gone); failed or timed out. */
  created: number;
  completed: number;
  failed: number;
  /** Completed pods per second, from the first create to the last pod gone. */
  podsPerSecond: number;
  /** Create → gone of each completed pod. */
  latency: Summary;
}

/** The controller's cold runner pod for the hello script (buildPod: image, resources, security
 * context, deadline), with the bare command instead of the harness, so without the request's
 * volume, and with no owner and the bench's label. */
export function barePod(name: string, ctx: Pick<BenchContext, "namespace" | "runtime" | "config">): V1Pod {
  const run: ScriptRun = { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace: ctx.namespace, uid: name, generation: 1 },
    spec: { script: WORKLOADS.hello.script } as ScriptRun["spec"] };
  const pod = buildPod(run, requestOf(WORKLOADS.hello, ctx), ctx.runtime, ctx.config);
  const spec = pod.spec!;
  return {
    apiVersion: "v1", kind: "Pod",
    metadata: { name, namespace: ctx.namespace, labels: BARE_LABELS },
    spec: {
      ...spec,
      volumes: spec.volumes?.filter((v) => v.name !== REQUEST_VOLUME),
      containers: spec.containers.map((c) => ({
        ...c, command: BARE_COMMAND, volumeMounts: c.volumeMounts?.filter((m) => m.name !== REQUEST_VOLUME),
      })),
    },
  };
}

/** `clients` clients churning bare pods back to back for `seconds`; those in flight at the end
 * are waited for. `pods`: the bench's watch of every pod in the namespace. */
export async function measureChurn(ctx: BenchContext, pods: ObjectWatch<V1Pod>, seconds: number, clients: number): Promise<Churn> {
  const core = ctx.kc.makeApiClient(CoreV1Api);
  const { namespace } = ctx;
  const once = async () => {
    const name = `bare-${newRunName().slice("run-".length)}`;
    const start = performance.now();
    try {
      await core.createNamespacedPod({ namespace, body: barePod(name, ctx) });
      const { obj } = await pods.waitFor(name, (p) => p.status?.phase === "Succeeded" || p.status?.phase === "Failed", POD_TIMEOUT_MS);
      await core.deleteNamespacedPod({ namespace, name });
      await pods.waitForGone(name, POD_TIMEOUT_MS);
      return { ok: obj.status?.phase === "Succeeded", ms: performance.now() - start };
    } catch {
      await core.deleteNamespacedPod({ namespace, name }).catch(() => undefined);
      return { ok: false, ms: performance.now() - start };
    }
  };
  const { results, elapsedMs } = await runFor(seconds * 1000, clients, once);
  const ok = results.filter((r) => r.ok);
  return {
    seconds, clients, created: results.length, completed: ok.length, failed: results.length - ok.length,
    podsPerSecond: Math.round((ok.length / (elapsedMs / 1000)) * 100) / 100, latency: summarize(ok.map((r) => r.ms)),
  };
}

// The floor of `make scale` (SCALE_CONTROLLER=floor): what a controller of the same language and
// client must spend on a run's I/O alone. It watches the namespace's runs and runner pods through
// the controller's own caches and connections, and for each run makes the controller's requests
// with the controller's own bodies: the pod (buildPod), the Pending, Running and outcome statuses
// (podStatus, statusFromPod, sent as merge patches of what changed), the Created and Succeeded
// Events (buildEvent), the pod's deletion. Nothing else: no work queue, admission, preflight, warm
// pools, metrics, retries or restart safety, so it is for the bench only (hello-world runs on
// kwok's nodes, which always succeed). bench/README.md, "The floor", says what it showed.
import { createServer } from "node:http";
import { CoreV1Api, CustomObjectsApi, KubeConfig, type KubernetesObject, type V1Pod } from "@kubernetes/client-node";
import { JsonClient, RUNS, reuseConnections, runsPath } from "../../core/kube.js";
import { createLogger } from "../../core/log.js";
import { resolveRequest } from "../../core/request.js";
import { parseRuntime, runtimeLimits } from "../../core/runtime.js";
import { RUNTIMES } from "../../core/runtimeCatalog.js";
import { WatchedCache } from "../../core/watchedCache.js";
import type { ScriptRuntime } from "../../crds/runtime.js";
import type { ScriptRun, ScriptRunStatus } from "../../crds/schema.js";
import { loadConfig } from "../../operator/config.js";
import { type EventNote, buildEvent } from "../../operator/events.js";
import { mergePatch } from "../../operator/mergePatch.js";
import { MANAGED_SELECTOR, ownerRunKey } from "../../operator/names.js";
import { buildPod } from "../../operator/podSpec.js";
import { podStatus } from "../../operator/runStatus.js";
import { statusFromPod } from "../../operator/statusFromPod.js";

const namespace = process.env.SCRIPTRUN_WATCH_NAMESPACES ?? "";
const config = loadConfig(process.env);
const log = createLogger("warn", "floor");
const kc = new KubeConfig();
kc.loadFromDefault();
reuseConnections(kc);
const json = new JsonClient(kc);
const custom = kc.makeApiClient(CustomObjectsApi);
const core = kc.makeApiClient(CoreV1Api);

const runtimes = new Map<string, Promise<ScriptRuntime>>();
const runs = new Map<string, ScriptRun>();
/** The status last written, by run name; a run is in it once its start was taken. */
const written = new Map<string, ScriptRunStatus>();
const ended = new Set<string>();

async function writeStatus(run: ScriptRun, desired: ScriptRunStatus): Promise<void> {
  const name = run.metadata.name ?? "";
  const patch = mergePatch(written.get(name) ?? {}, desired);
  written.set(name, desired);
  if (patch !== undefined) {
    await json.send("PATCH", `${runsPath(namespace)}/${name}/status`, { status: patch }, { contentType: "application/merge-patch+json" });
  }
}

const record = (run: ScriptRun, note: EventNote) =>
  json.send("POST", `/api/v1/namespaces/${namespace}/events`, buildEvent(run, note, new Date(), "floor"));

async function start(run: ScriptRun): Promise<void> {
  const runtimeName = run.spec.runtime ?? "";
  if (!runtimes.has(runtimeName)) {
    const read = custom.getClusterCustomObject({ ...RUNTIMES, name: runtimeName }) as Promise<ScriptRuntime>;
    // A failed read is not kept: the next run reads again.
    read.catch(() => runtimes.delete(runtimeName));
    runtimes.set(runtimeName, read);
  }
  const parsed = parseRuntime(await runtimes.get(runtimeName)!);
  if (!parsed.ok) throw new Error(parsed.problems.join("; "));
  const resolution = resolveRequest(run.spec, runtimeLimits(parsed.runtime, config.maxScriptBytes));
  if (!resolution.ok) throw new Error(resolution.reasons.join("; "));
  const pod = buildPod(run, resolution.request, parsed.runtime, config);
  const podName = pod.metadata?.name ?? "";
  // Its answer parsed, as the controller's createPod does (the warm pools read it).
  await json.request("POST", `/api/v1/namespaces/${namespace}/pods`, pod);
  await Promise.all([
    record(run, { type: "Normal", reason: "Created", message: `Created pod ${podName}` }),
    writeStatus(run, podStatus(run, { name: podName, runtime: { name: parsed.runtime.name, image: parsed.runtime.spec.image }, start: "cold" },
      undefined, Date.now())),
  ]);
}

async function podChanged(pod: V1Pod): Promise<void> {
  const name = ownerRunKey(pod)?.split("/")[1] ?? "";
  const run = runs.get(name);
  const current = written.get(name);
  if (!run || !current || ended.has(name) || pod.metadata?.deletionTimestamp) return;
  const observation = statusFromPod({ ...run, status: current }, pod, undefined, Date.now(), config);
  if (observation.kind === "waiting") await writeStatus(run, observation.status);
  if (observation.kind !== "finished") return;
  ended.add(name);
  await Promise.all([
    writeStatus(run, observation.status),
    record(run, { type: "Normal", reason: observation.status.phase ?? "", message: `Finished on pod ${pod.metadata?.name}` }),
    json.send("DELETE", `/api/v1/namespaces/${namespace}/pods/${pod.metadata?.name}`),
  ]);
}

const failed = (err: unknown) => log.warn({ err: String(err) }, "A run's request failed");
const runCache = new WatchedCache<KubernetesObject>(kc, {
  what: "scriptruns", path: runsPath(namespace),
  list: () => custom.listNamespacedCustomObject({ ...RUNS, namespace }) as never,
}, {
  changed: (obj) => {
    const run = obj as ScriptRun;
    const name = run.metadata.name ?? "";
    runs.set(name, run);
    if (run.status === undefined && !written.has(name)) {
      written.set(name, {});
      start(run).catch(failed);
    }
  },
  deleted: (obj) => runs.delete(obj.metadata?.name ?? ""),
}, log);
const podCache = new WatchedCache<V1Pod>(kc, {
  what: "runner pods", path: `/api/v1/namespaces/${namespace}/pods`, labelSelector: MANAGED_SELECTOR,
  list: () => core.listNamespacedPod({ namespace, labelSelector: MANAGED_SELECTOR }),
}, { changed: (pod) => podChanged(pod).catch(failed), deleted: () => {} }, log);

await Promise.all([runCache.start(), podCache.start()]);
// What the bench reads of a controller: that it is up, and its metrics (none here).
createServer((request, response) => response.end(request.url === "/healthz" ? "ok" : "")).listen(config.metricsPort, "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));

// Prints p50/p95 of two controller stages over N serial runs on the cluster of
// KUBECONFIG (with a controller running): ScriptRun created → runner pod exists,
// and runner container terminated → ScriptRun status finished. Polls every 20 ms,
// so each figure carries up to 20 ms of sampling error.
import * as k8s from "@kubernetes/client-node";

const kc = new k8s.KubeConfig();
kc.loadFromDefault();
const core = kc.makeApiClient(k8s.CoreV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const api = { group: "scriptrun.dev", version: "v1alpha1", plural: "scriptruns" };
const namespace = process.env.BENCH_NAMESPACE ?? "default";
const runs = Number(process.argv[2] ?? 50);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

async function until<T>(probe: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(20);
  }
}

const toPod: number[] = [];
const toStatus: number[] = [];
for (let i = 0; i < runs; i++) {
  const name = `stage-${Date.now()}-${i}`;
  const t0 = Date.now();
  await custom.createNamespacedCustomObject({ ...api, namespace, body: {
    apiVersion: "scriptrun.dev/v1alpha1", kind: "ScriptRun", metadata: { name },
    spec: { script: "def main():\n    return 'Hello, World!'\n", ttlSecondsAfterFinished: 60 } } });
  await until(async () => ((await core.listNamespacedPod({ namespace, labelSelector: `scriptrun.dev/run=${name}` })).items[0]));
  toPod.push(Date.now() - t0);
  const t1 = await until(async () => {
    const pod = (await core.listNamespacedPod({ namespace, labelSelector: `scriptrun.dev/run=${name}` })).items[0];
    return pod?.status?.containerStatuses?.[0]?.state?.terminated ? Date.now() : undefined;
  });
  await until(async () => {
    const run = (await custom.getNamespacedCustomObject({ ...api, namespace, name })) as { status?: { phase?: string } };
    return ["Succeeded", "Failed"].includes(run.status?.phase ?? "") ? true : undefined;
  });
  toStatus.push(Date.now() - t1);
}
console.log(`runs=${runs} created_to_pod_p50_ms=${pct(toPod, 50)} created_to_pod_p95_ms=${pct(toPod, 95)} ` +
  `terminated_to_status_p50_ms=${pct(toStatus, 50)} terminated_to_status_p95_ms=${pct(toStatus, 95)}`);

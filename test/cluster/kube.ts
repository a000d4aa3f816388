// What the real-cluster tests share: clients for the cluster named by KUBECONFIG,
// a throwaway namespace per suite, and polling with a deadline.
import * as k8s from "@kubernetes/client-node";

export const RUNNER_IMAGE = process.env.SCRIPTRUN_RUNNER_IMAGE ?? "localhost/scriptrun/runner:test";

export function kubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  return kc;
}

export const kc = kubeConfig();
export const core = kc.makeApiClient(k8s.CoreV1Api);
export const custom = kc.makeApiClient(k8s.CustomObjectsApi);

/** Polls `probe` until it returns a value other than undefined, or fails naming `what`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

/** Creates a namespace for one suite and returns its name; `deleteNamespace` removes it. */
export async function createNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  await core.createNamespace({ body: { metadata: { name, labels: { "scriptrun.dev/test": "true" } } } });
  // Pods are refused until the namespace's default ServiceAccount exists.
  await eventually(`the default ServiceAccount in ${name}`, async () =>
    (await core.readNamespacedServiceAccount({ name: "default", namespace: name })) ?? undefined);
  return name;
}

export async function deleteNamespace(name: string): Promise<void> {
  await core.deleteNamespace({ name }).catch(() => undefined);
}

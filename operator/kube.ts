// The few Kubernetes calls reconcile makes, behind one small interface: client-node backs it in
// the controller (plain JSON requests for the calls every run makes, core/kube.ts JsonClient), an
// in-memory fake in unit tests. Errors are client-node's ApiException (`.code`).
import {
  CoreV1Api, type CoreV1Event, CustomObjectsApi, type KubeConfig, PatchStrategy,
  type V1ConfigMap, type V1Pod, setHeaderOptions,
} from "@kubernetes/client-node";
import { JsonClient, RUNS, runsPath, unless } from "../core/kube.js";
import { RUNTIMES } from "../core/runtimeCatalog.js";
import type { ScriptRun, ScriptRunStatus } from "../crds/schema.js";
import { RUN_LABEL, runLabelValue } from "./names.js";

/** How a status change travels: a merge patch normally, a JSON patch when it must carry nulls. */
export type StatusPatch =
  | { type: "merge"; status: Record<string, unknown> }
  | { type: "replace"; status: ScriptRunStatus };

export interface Kube {
  /** Resolves "exists" when an object of that name is already there (409). */
  createConfigMap(configMap: V1ConfigMap): Promise<"created" | "exists">;
  /** The pod as created (its name chosen by the apiserver when it had only a generateName). */
  createPod(pod: V1Pod): Promise<V1Pod | "exists">;
  readConfigMap(namespace: string, name: string): Promise<V1ConfigMap | undefined>;
  readPod(namespace: string, name: string): Promise<V1Pod | undefined>;
  /** The pods labelled for a run of this name (its own, or a warm pod it claimed), read from the apiserver. */
  listRunPods(namespace: string, runName: string): Promise<V1Pod[]>;
  /** A merge patch of a pod; "conflict" when its resourceVersion precondition failed (409). */
  patchPod(namespace: string, name: string, patch: Record<string, unknown>): Promise<V1Pod | "conflict" | "gone">;
  readRun(namespace: string, name: string): Promise<ScriptRun | undefined>;
  /** The run's JSON as the apiserver writes it; undefined when it is gone. */
  readRunText(namespace: string, name: string): Promise<string | undefined>;
  /** A container's log, at most `limitBytes` of it (the envelope is its last line). */
  readLog(namespace: string, pod: string, container: string, limitBytes: number): Promise<string>;
  /** False when the run is gone. */
  patchRunStatus(namespace: string, name: string, patch: StatusPatch): Promise<boolean>;
  /** Each delete resolves when the object is gone or was never there; with `resourceVersion`, only
   * if the pod is still as seen (a warm pod claimed meanwhile is not the pool's to delete). */
  deletePod(namespace: string, name: string, resourceVersion?: string): Promise<void>;
  deleteConfigMap(namespace: string, name: string): Promise<void>;
  /** Deletes the run only if it is still the one with this uid. */
  deleteRun(namespace: string, name: string, uid: string): Promise<void>;
  /** Records an event; one of the same name already there (an event recorded `once`) is left as it is. */
  createEvent(event: CoreV1Event): Promise<void>;
  /** A JSON merge patch of the runtime's status; false when the runtime is gone. */
  patchRuntimeStatus(name: string, patch: Record<string, unknown>): Promise<boolean>;
}

const podsPath = (namespace: string) => `/api/v1/namespaces/${namespace}/pods`;

export class ClientKube implements Kube {
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly json: JsonClient;

  constructor(kc: KubeConfig) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.json = new JsonClient(kc);
  }

  createConfigMap(body: V1ConfigMap): Promise<"created" | "exists"> {
    return unless([409], this.core.createNamespacedConfigMap({ namespace: body.metadata!.namespace!, body }).then(() => "created" as const), "exists");
  }

  createPod(body: V1Pod): Promise<V1Pod | "exists"> {
    return unless([409], this.json.request<V1Pod>("POST", podsPath(body.metadata!.namespace!), body), "exists" as const);
  }

  readConfigMap(namespace: string, name: string): Promise<V1ConfigMap | undefined> {
    return unless([404], this.core.readNamespacedConfigMap({ namespace, name }), undefined);
  }

  readPod(namespace: string, name: string): Promise<V1Pod | undefined> {
    return unless([404], this.core.readNamespacedPod({ namespace, name }), undefined);
  }

  async listRunPods(namespace: string, runName: string): Promise<V1Pod[]> {
    const selector = encodeURIComponent(`${RUN_LABEL}=${runLabelValue(runName)}`);
    return (await this.json.request<{ items?: V1Pod[] }>("GET", `${podsPath(namespace)}?labelSelector=${selector}`)).items ?? [];
  }

  async patchPod(namespace: string, name: string, body: Record<string, unknown>): Promise<V1Pod | "conflict" | "gone"> {
    const request = this.core.patchNamespacedPod({ namespace, name, body }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    const patched = await unless([409], unless([404], request, "gone" as const), "conflict" as const);
    return patched;
  }

  readRun(namespace: string, name: string): Promise<ScriptRun | undefined> {
    return unless([404], this.custom.getNamespacedCustomObject({ ...RUNS, namespace, name }), undefined);
  }

  readRunText(namespace: string, name: string): Promise<string | undefined> {
    return unless([404], this.json.text("GET", `${runsPath(namespace)}/${name}`), undefined);
  }

  readLog(namespace: string, name: string, container: string, limitBytes: number): Promise<string> {
    // Not tailLines: the runtime splits long lines (16 KiB in containerd), and the
    // last piece alone is not the envelope. The harness prints nothing else.
    return this.core.readNamespacedPodLog({ namespace, name, container, limitBytes });
  }

  async patchRunStatus(namespace: string, name: string, patch: StatusPatch): Promise<boolean> {
    const path = `${runsPath(namespace)}/${name}/status`;
    const request = patch.type === "merge"
      ? this.json.send("PATCH", path, { status: patch.status }, { contentType: PatchStrategy.MergePatch })
      : this.json.send("PATCH", path, [{ op: "add", path: "/status", value: patch.status }], { contentType: PatchStrategy.JsonPatch });
    return unless([404], request.then(() => true), false);
  }

  async deletePod(namespace: string, name: string, resourceVersion?: string): Promise<void> {
    const body = resourceVersion !== undefined ? { preconditions: { resourceVersion } } : undefined;
    await unless([404, 409], this.json.send("DELETE", `${podsPath(namespace)}/${name}`, body), undefined);
  }

  async deleteConfigMap(namespace: string, name: string): Promise<void> {
    await unless([404], this.core.deleteNamespacedConfigMap({ namespace, name }), undefined);
  }

  async deleteRun(namespace: string, name: string, uid: string): Promise<void> {
    // 409: the uid precondition failed, so a new run of that name is not ours to delete.
    await unless([404, 409], this.custom.deleteNamespacedCustomObject({
      ...RUNS, namespace, name,
      body: { preconditions: { uid }, propagationPolicy: "Background" },
    }), undefined);
  }

  async patchRuntimeStatus(name: string, patch: Record<string, unknown>): Promise<boolean> {
    const request = this.custom.patchClusterCustomObjectStatus({ ...RUNTIMES, name, body: { status: patch } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    return unless([404], request.then(() => true), false);
  }

  async createEvent(body: CoreV1Event): Promise<void> {
    await unless([409], this.json.send("POST", `/api/v1/namespaces/${body.metadata.namespace!}/events`, body), undefined);
  }
}

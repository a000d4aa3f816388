import assert from "node:assert/strict";
import { KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { silentLogger } from "./log.js";
import { WatchedCache } from "./watchedCache.js";

/** A kubeconfig for an apiserver that is not there: the list below is all the informer gets. */
function nowhere(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: "http://127.0.0.1:9", skipTLSVerify: true }],
    users: [{ name: "u" }], contexts: [{ name: "x", cluster: "c", user: "u" }], currentContext: "x",
  });
  return kc;
}

describe("an informer cache", () => {
  it("keeps what it lists without managedFields, and tells the listener", async () => {
    const seen: KubernetesObject[] = [];
    const run = {
      apiVersion: "scriptrun.dev/v1alpha1", kind: "ScriptRun",
      metadata: { name: "a", namespace: "ns", resourceVersion: "7", managedFields: [{ manager: "kubectl", operation: "Update" }] },
    };
    const cache = new WatchedCache<KubernetesObject>(nowhere(), {
      what: "scriptruns", path: "/apis/scriptrun.dev/v1alpha1/scriptruns",
      list: async () => ({ apiVersion: "v1", kind: "List", metadata: { resourceVersion: "7" }, items: [structuredClone(run)] }),
    }, { changed: (obj) => seen.push(obj), deleted: () => undefined }, silentLogger());
    void cache.start();
    try {
      for (let i = 0; i < 50 && !cache.get("a", "ns"); i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(cache.get("a", "ns")?.metadata?.resourceVersion, "7");
      assert.equal(cache.get("a", "ns")?.metadata?.managedFields, undefined);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]?.metadata?.managedFields, undefined);
    } finally {
      await cache.stop();
    }
  });
});

// The self-restarting informer cache against the real apiserver: a relist while objects are being
// created must not report any of them deleted. (A run created after the new list was taken is
// missing from it until its watch event arrives; reporting it deleted made waiting /execute
// callers answer 410 run_deleted for runs that were alive.)
import assert from "node:assert/strict";
import type { KubernetesListObject, KubernetesObject } from "@kubernetes/client-node";
import { RUNS, runsPath, unless } from "../../core/kube.js";
import { createLogger } from "../../core/log.js";
import { WatchedCache } from "../../core/watchedCache.js";
import { API_VERSION, KIND } from "../../crds/schema.js";
import { createNamespace, custom, deleteNamespace, kc } from "./kube.js";

describe("the watched cache on the real cluster", function () {
  let namespace: string;
  before(async () => {
    namespace = await createNamespace("relist");
  });
  after(async () => {
    await deleteNamespace(namespace);
  });

  it("reports no object deleted that still exists, when relisting while objects are created", async () => {
    const target = { ...RUNS, namespace };
    const reportedDeleted: string[] = [];
    const cache = new WatchedCache<KubernetesObject>(kc, {
      what: "scriptruns",
      path: runsPath(namespace),
      list: () => custom.listNamespacedCustomObject(target) as Promise<KubernetesListObject<KubernetesObject>>,
      read: (name) => unless([404], custom.getNamespacedCustomObject({ ...target, name }), undefined),
    }, { changed: () => undefined, deleted: (obj) => reportedDeleted.push(obj.metadata?.name ?? "") }, createLogger("error", "test"));
    await cache.start();
    // No controller watches this namespace: the runs are only objects, and none is ever deleted.
    let creating = true;
    let created = 0;
    const creator = (async () => {
      while (creating) {
        await Promise.all(Array.from({ length: 4 }, () => custom.createNamespacedCustomObject({
          ...target, body: { apiVersion: API_VERSION, kind: KIND, metadata: { name: `r-${created++}` }, spec: { script: "def main():\n    return 1\n" } },
        })));
      }
    })();
    for (let i = 0; i < 40; i++) await cache.relist();
    creating = false;
    await creator;
    await cache.stop();
    assert.ok(created >= 40, `only ${created} runs were created while relisting`);
    assert.deepEqual(reportedDeleted, [], `${reportedDeleted.length} live runs were reported deleted`);
  });

  it("reports deleted what the apiserver no longer has, and reads again at the next relist what it could not read", async () => {
    const target = { ...RUNS, namespace };
    await custom.createNamespacedCustomObject({ ...target, body: { apiVersion: API_VERSION, kind: KIND, metadata: { name: "real" }, spec: { script: "x" } } });
    // The first list also holds a run whose deletion the watch never told of.
    const ghost = { apiVersion: API_VERSION, kind: KIND, metadata: { name: "ghost", namespace, uid: "ghost-uid", resourceVersion: "1" }, spec: {} };
    let lists = 0;
    let readFails = true;
    const reported: string[] = [];
    const cache = new WatchedCache<KubernetesObject>(kc, {
      what: "scriptruns",
      path: runsPath(namespace),
      list: async () => {
        const listed = await custom.listNamespacedCustomObject(target) as KubernetesListObject<KubernetesObject>;
        return lists++ === 0 ? { ...listed, items: [...listed.items, ghost] } : listed;
      },
      read: async (name) => {
        if (readFails) throw new Error("the apiserver did not answer");
        return unless([404], custom.getNamespacedCustomObject({ ...target, name }), undefined);
      },
    }, { changed: () => undefined, deleted: (obj) => reported.push(obj.metadata?.name ?? "") }, createLogger("error", "test"));
    await cache.start();
    await cache.relist();
    assert.deepEqual(reported, [], "a read that failed is no deletion");
    readFails = false;
    await cache.relist();
    await cache.stop();
    assert.deepEqual(reported, ["ghost"]);
  });
});

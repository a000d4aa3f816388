import assert from "node:assert/strict";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { pino } from "pino";
import { silentLogger } from "./log.js";
import { WatchedCache } from "./watchedCache.js";

/** A kubeconfig for `server` (by default an apiserver that is not there: the list is all the informer gets). */
function nowhere(server = "http://127.0.0.1:9"): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server, skipTLSVerify: true }],
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

  it("caches each object as its source trims it, and tells the listener of the trimmed one", async () => {
    const seen: KubernetesObject[] = [];
    const cache = new WatchedCache<KubernetesObject & { spec?: { script?: string } }>(nowhere(), {
      what: "scriptruns", path: "/apis/scriptrun.dev/v1alpha1/scriptruns",
      list: async () => ({ apiVersion: "v1", kind: "List", metadata: { resourceVersion: "7" },
        items: [{ metadata: { name: "a", namespace: "ns", resourceVersion: "7" }, spec: { script: "x".repeat(1000) } }] }),
      trim: (obj) => {
        delete obj.spec;
        return obj;
      },
    }, { changed: (obj) => seen.push(obj), deleted: () => undefined }, silentLogger());
    void cache.start();
    try {
      for (let i = 0; i < 50 && !cache.get("a", "ns"); i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(cache.get("a", "ns"), { metadata: { name: "a", namespace: "ns", resourceVersion: "7" } });
      assert.equal(seen[0], cache.get("a", "ns"));
    } finally {
      await cache.stop();
    }
  });

  it("relists keeping each unchanged object, and tells the listener only of what changed", async () => {
    // A loopback apiserver whose watches stay open and quiet: the lists are all the news.
    const watches: Server = createServer((_request, response) => {
      response.writeHead(200, { "Content-Type": "application/json" });
      response.flushHeaders();
    });
    await new Promise<void>((resolve) => watches.listen(0, "127.0.0.1", resolve));
    const run = (name: string, resourceVersion: string) =>
      ({ apiVersion: "scriptrun.dev/v1alpha1", kind: "ScriptRun", metadata: { name, namespace: "ns", uid: `uid-${name}`, resourceVersion } });
    let items = [run("a", "1"), run("b", "1")];
    const seen: string[] = [];
    const cache = new WatchedCache<KubernetesObject>(nowhere(`http://127.0.0.1:${(watches.address() as AddressInfo).port}`), {
      what: "scriptruns", path: "/apis/scriptrun.dev/v1alpha1/scriptruns",
      list: async (reuse) => ({ apiVersion: "v1", kind: "List", metadata: { resourceVersion: "9" }, items: structuredClone(items).map(reuse) }),
    }, { changed: (obj) => seen.push(`${obj.metadata?.name}@${obj.metadata?.resourceVersion}`), deleted: () => undefined }, silentLogger());
    try {
      await cache.start();
      assert.deepEqual(seen, ["a@1", "b@1"]);
      const a = cache.get("a", "ns");
      items = [run("a", "1"), run("b", "2")];
      await cache.relist();
      assert.deepEqual(seen, ["a@1", "b@1", "b@2"]);
      assert.equal(cache.get("a", "ns"), a, "the unchanged object is the one cached before, not a second copy");
      assert.equal(cache.get("b", "ns")?.metadata?.resourceVersion, "2");
    } finally {
      await cache.stop();
      watches.closeAllConnections();
      await new Promise((resolve) => watches.close(resolve));
    }
  });

  for (const [how, there] of [["still there", true], ["gone", false]] as const) {
    it(`still shows an object a relist missed while it is read again, and after, as the read found it (${how})`, async () => {
      // Created after the relist's list was taken, its watch event still on the way: a reconcile
      // meanwhile must not take it for deleted.
      const watches: Server = createServer((_request, response) => {
        response.writeHead(200, { "Content-Type": "application/json" });
        response.flushHeaders();
      });
      await new Promise<void>((resolve) => watches.listen(0, "127.0.0.1", resolve));
      const run = (name: string) => ({ apiVersion: "scriptrun.dev/v1alpha1", kind: "ScriptRun", metadata: { name, namespace: "ns", uid: `uid-${name}`, resourceVersion: "1" } });
      let items = [run("a"), run("b")];
      let answer!: (obj: KubernetesObject | undefined) => void;
      const deleted: string[] = [];
      const cache = new WatchedCache<KubernetesObject>(nowhere(`http://127.0.0.1:${(watches.address() as AddressInfo).port}`), {
        what: "scriptruns", path: "/apis/scriptrun.dev/v1alpha1/scriptruns",
        list: async (reuse) => ({ apiVersion: "v1", kind: "List", metadata: { resourceVersion: "9" }, items: structuredClone(items).map(reuse) }),
        read: () => new Promise((resolve) => { answer = resolve; }),
      }, { changed: () => undefined, deleted: (obj) => deleted.push(obj.metadata?.name ?? "") }, silentLogger());
      try {
        await cache.start();
        items = [run("a")];
        const relisted = cache.relist();
        for (let i = 0; i < 100 && answer === undefined; i++) await new Promise((r) => setTimeout(r, 10));
        assert.ok(answer, "b is read again");
        assert.equal(cache.get("b", "ns")?.metadata?.name, "b", "shown while it is read");
        assert.deepEqual(cache.list("ns").map((o) => o.metadata?.name), ["a", "b"]);
        answer(there ? run("b") : undefined);
        await relisted;
        assert.equal(cache.get("b", "ns")?.metadata?.name, there ? "b" : undefined);
        assert.deepEqual(deleted, there ? [] : ["b"]);
      } finally {
        await cache.stop();
        watches.closeAllConnections();
        await new Promise((resolve) => watches.close(resolve));
      }
    });
  }
});

describe("an informer cache's objects a relist missed", () => {
  const run = (name: string) => ({ apiVersion: "scriptrun.dev/v1alpha1", kind: "ScriptRun", metadata: { name, namespace: "ns", uid: `uid-${name}`, resourceVersion: "1" } });

  /** A loopback apiserver whose watches stay open and quiet, and a cache of its runs. */
  async function quietCache(items: () => KubernetesObject[], read: () => Promise<KubernetesObject | undefined>, deleted: string[]) {
    const watches: Server = createServer((_request, response) => {
      response.writeHead(200, { "Content-Type": "application/json" });
      response.flushHeaders();
    });
    await new Promise<void>((resolve) => watches.listen(0, "127.0.0.1", resolve));
    const cache = new WatchedCache<KubernetesObject>(nowhere(`http://127.0.0.1:${(watches.address() as AddressInfo).port}`), {
      what: "scriptruns", path: "/apis/scriptrun.dev/v1alpha1/scriptruns",
      list: async (reuse) => ({ apiVersion: "v1", kind: "List", metadata: { resourceVersion: "9" }, items: structuredClone(items()).map(reuse) }),
      read,
    }, { changed: () => undefined, deleted: (obj) => deleted.push(obj.metadata?.name ?? "") }, silentLogger());
    const close = async () => {
      await cache.stop();
      watches.closeAllConnections();
      await new Promise((resolve) => watches.close(resolve));
    };
    return { cache, close };
  }

  it("are reported deleted when a re-read finds them gone, though a second relist came meanwhile", async () => {
    let items = [run("a"), run("b")];
    const answers: Array<(obj: KubernetesObject | undefined) => void> = [];
    const deleted: string[] = [];
    const { cache, close } = await quietCache(() => items, () => new Promise((resolve) => { answers.push(resolve); }), deleted);
    try {
      await cache.start();
      items = [run("a")];
      const first = cache.relist();
      for (let i = 0; i < 100 && answers.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      const second = cache.relist();
      for (let i = 0; i < 100 && answers.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      answers[0]!(undefined);
      await first;
      answers[1]?.(undefined);
      await second;
      assert.equal(cache.get("b", "ns"), undefined);
      assert.ok(deleted.includes("b"), `deleted: ${deleted}`);
    } finally {
      await close();
    }
  });

  it("are read again at the next relist while their watch never told of them, and reported deleted once gone", async () => {
    let items = [run("a"), run("b")];
    let reads = 0;
    const deleted: string[] = [];
    const { cache, close } = await quietCache(() => items, async () => (++reads === 1 ? run("b") : undefined), deleted);
    try {
      await cache.start();
      items = [run("a")];
      await cache.relist();
      assert.equal(cache.get("b", "ns")?.metadata?.name, "b", "read and found");
      await cache.relist();
      assert.equal(reads, 2);
      assert.equal(cache.get("b", "ns"), undefined);
      assert.deepEqual(deleted, ["b"]);
    } finally {
      await close();
    }
  });
});

describe("an informer cache whose watch is refused", () => {
  it("retries it with a growing backoff and is not synced meanwhile (the CRD gone after its list)", async () => {
    let watches = 0;
    const server: Server = createServer((req, res) => {
      if (req.url?.includes("watch=true")) watches++;
      // As the apiserver answers for a resource it does not serve.
      res.writeHead(404, { "Content-Type": "text/plain" }).end("404 page not found\n");
    });
    server.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    const warnings: Array<{ retryInMs?: number; err?: string }> = [];
    const log = pino({ level: "warn" }, { write: (line: string) => void warnings.push(JSON.parse(line)) });
    // Listed once (a resourceVersion to watch from), then only watched: what a restart does.
    const cache = new WatchedCache<KubernetesObject>(nowhere(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), {
      what: "scriptruns", path: "/apis/scriptrun.dev/v1alpha1/scriptruns",
      list: async () => ({ apiVersion: "v1", kind: "List", metadata: { resourceVersion: "7" }, items: [] }),
    }, { changed: () => undefined, deleted: () => undefined }, log);
    void cache.start();
    try {
      for (let i = 0; i < 300 && warnings.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(warnings.map((w) => w.retryInMs), [1000, 2000]);
      assert.equal(watches, 2);
      assert.match(warnings[0]?.err ?? "", /Not Found: the watch of \/apis\/scriptrun.dev\/v1alpha1\/scriptruns/);
      assert.equal(cache.synced, false);
    } finally {
      await cache.stop();
      server.close();
      server.closeAllConnections();
    }
  });
});

describe("an informer cache stopped while its watch waits for an answer", () => {
  it("ends that watch: the answer that comes after tells the listener nothing", async () => {
    const server: Server = createServer((req, res) => {
      // The watch's answer comes late, with an event.
      setTimeout(() => {
        if (!res.destroyed) {
          res.writeHead(200, { "Content-Type": "application/json" })
            .end(`${JSON.stringify({ type: "ADDED", object: { metadata: { name: "late", namespace: "ns", resourceVersion: "8" } } })}\n`);
        }
      }, 300);
    });
    server.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    const changed: string[] = [];
    const cache = new WatchedCache<KubernetesObject>(nowhere(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), {
      what: "scriptruns", path: "/apis/scriptrun.dev/v1alpha1/scriptruns",
      list: async () => ({ apiVersion: "v1", kind: "List", metadata: { resourceVersion: "7" }, items: [] }),
    }, { changed: (obj) => changed.push(obj.metadata?.name ?? ""), deleted: () => undefined }, silentLogger());
    const started = cache.start();
    try {
      await new Promise((r) => setTimeout(r, 100));
      await cache.stop();
      await started;
      await new Promise((r) => setTimeout(r, 400));
      assert.deepEqual(changed, []);
      assert.equal(cache.get("late", "ns"), undefined);
    } finally {
      server.close();
      server.closeAllConnections();
    }
  });
});

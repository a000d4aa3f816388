// The pool keeper against an in-memory apiserver and an informer cache that this test moves forward
// by hand (sync), so that a cache lagging behind what the keeper just did can be shown.
import assert from "node:assert/strict";
import type { ObjectCache, V1Pod } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { silentLogger } from "../core/log.js";
import { parseRuntime } from "../core/runtime.js";
import type { ScriptRuntime } from "../crds/runtime.js";
import { createMetrics } from "./metrics.js";
import { ownerRunKey } from "./names.js";
import { PoolKeeper } from "./poolKeeper.js";
import { T0, aRuntime, running, terminated, testConfig } from "./testkit.js";
import { CLAIMED_AT_ANNOTATION, POOL_LABEL, START_ANNOTATION, TEMPLATE_LABEL } from "./warmPool.js";

type WarmPool = { size: number; namespaces?: string[] };

const pooledRuntime = (warmPool: WarmPool, spec: Parameters<typeof aRuntime>[1] = {}, name = "python") => aRuntime(name, { ...spec, warmPool });

class World {
  /** What the apiserver holds, by namespace/name. */
  readonly server = new Map<string, V1Pod>();
  /** What the informer's cache shows: the server as it was at the last sync. */
  private readonly cache = new Map<string, V1Pod>();
  /** Times the keeper looked at the cache (a reconcile ran); only to know when one has. */
  looks = 0;
  runtimes: ScriptRuntime[];
  readonly counted: string[] = [];
  clock = T0;
  readonly keeper: PoolKeeper;
  private version = 100;

  readonly kube = {
    createPod: async (pod: V1Pod): Promise<V1Pod | "exists"> => {
      const name = `${pod.metadata!.generateName}${Math.random().toString(36).slice(2, 7)}`;
      const stored: V1Pod = structuredClone(pod);
      stored.metadata = { ...stored.metadata, name, resourceVersion: String(++this.version), creationTimestamp: new Date(this.clock) };
      stored.status = { phase: "Pending" };
      this.server.set(`${stored.metadata.namespace}/${name}`, stored);
      return structuredClone(stored);
    },
    deletePod: async (namespace: string, name: string, resourceVersion?: string): Promise<void> => {
      // The apiserver's precondition: a pod changed since it was seen is not deleted (409).
      if (resourceVersion !== undefined && this.server.get(`${namespace}/${name}`)?.metadata?.resourceVersion !== resourceVersion) return;
      this.server.delete(`${namespace}/${name}`);
    },
  };

  readonly pods: ObjectCache<V1Pod> = {
    get: (name, namespace) => this.cache.get(`${namespace}/${name}`),
    list: (namespace) => {
      this.looks++;
      return [...this.cache.values()].filter((p) => namespace === undefined || p.metadata?.namespace === namespace);
    },
  };

  constructor(runtimes: ScriptRuntime[], watchNamespaces: string[] = []) {
    this.runtimes = runtimes;
    this.keeper = new PoolKeeper({
      runtimes: { list: () => this.runtimes, get: (name) => this.runtimes.find((r) => r.metadata.name === name) },
      pods: this.pods,
      kube: this.kube,
      settings: testConfig(),
      watchNamespaces,
      metrics: createMetrics(new Registry()),
      log: silentLogger(),
      counted: (runtime) => this.counted.push(runtime),
      now: () => this.clock,
    });
    this.keeper.start();
  }

  /** The informer catches up with the apiserver (for the pods `which` picks) and tells what changed,
   * as the controller's informer does: a pod no run owns goes to the keeper. */
  sync(which: (pod: V1Pod) => boolean = () => true): void {
    const told: V1Pod[] = [];
    for (const [key, pod] of this.server) {
      if (!which(pod)) continue;
      if (this.cache.get(key)?.metadata?.resourceVersion !== pod.metadata?.resourceVersion) told.push(pod);
      this.cache.set(key, structuredClone(pod));
    }
    for (const [key, pod] of this.cache) {
      if (this.server.has(key) || !which(pod)) continue;
      this.cache.delete(key);
      told.push(pod);
    }
    for (const pod of told) if (ownerRunKey(pod) === undefined) this.keeper.podChanged(structuredClone(pod));
  }

  /** The kubelet started these pods' runners. */
  start(pods = this.pool()): void {
    for (const pod of pods) this.update(pod, { phase: "Running", containerStatuses: [{ name: "runner", image: "i", imageID: "", ready: true, restartCount: 0, state: running() }] });
  }

  update(pod: V1Pod, status: V1Pod["status"]): void {
    const stored = this.server.get(`${pod.metadata!.namespace}/${pod.metadata!.name}`)!;
    stored.status = status;
    stored.metadata!.resourceVersion = String(++this.version);
  }

  /** A run's claim, as the apiserver applies it: out of the pool, owned by the run. */
  claim(pod: V1Pod): void {
    const stored = this.server.get(`${pod.metadata!.namespace}/${pod.metadata!.name}`)!;
    delete stored.metadata!.labels![POOL_LABEL];
    delete stored.metadata!.labels![TEMPLATE_LABEL];
    stored.metadata!.labels!["scriptrun.dev/run"] = "claimer";
    stored.metadata!.ownerReferences = [{ apiVersion: "scriptrun.dev/v1alpha1", kind: "ScriptRun", name: "claimer", uid: "uid-claimer", controller: true }];
    stored.metadata!.resourceVersion = String(++this.version);
  }

  /** The pool pods of a runtime in a namespace, as the apiserver holds them. */
  pool(namespace = "a", runtime = "python"): V1Pod[] {
    return [...this.server.values()].filter((p) => p.metadata?.namespace === namespace && p.metadata?.labels?.[POOL_LABEL] === runtime);
  }

  names(namespace = "a", runtime = "python"): string[] {
    return this.pool(namespace, runtime).map((p) => p.metadata!.name!).sort();
  }

  /** Runs one more reconcile of every pool and waits until it has looked and acted. */
  async reconcileAgain(): Promise<void> {
    const before = this.looks;
    this.keeper.runtimesChanged();
    await until(() => this.looks > before, "a reconcile ran");
    await settle();
  }
}

async function until(condition: () => boolean, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Lets the queue finish whatever it is doing (the fakes answer at once). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 25));

function templateOf(world: World, runtime: ScriptRuntime): string {
  const parsed = parseRuntime(runtime);
  assert.ok(parsed.ok);
  return world.keeper.templateOf(parsed.runtime);
}

describe("the warm pool keeper", () => {
  let world: World;
  afterEach(() => world.keeper.shutdown());

  /** A world whose pools were filled and whose pods the cache shows, started unless told. */
  async function filled(runtimes: ScriptRuntime[], options: { start?: boolean; watch?: string[] } = {}): Promise<World> {
    world = new World(runtimes, options.watch);
    world.keeper.runtimesChanged();
    for (const runtime of runtimes) {
      for (const namespace of runtime.spec.warmPool?.namespaces ?? []) {
        if (options.watch && !options.watch.includes(namespace)) continue;
        await until(() => world.pool(namespace, runtime.metadata.name).length === runtime.spec.warmPool!.size, `${namespace} is filled`);
      }
    }
    await settle();
    if (options.start ?? true) world.start([...world.server.values()]);
    world.sync();
    await settle();
    return world;
  }

  it("touches no pool before it is started (the caches it reads are not filled yet)", async () => {
    world = new World([pooledRuntime({ size: 2, namespaces: ["a"] })]);
    const keeper = new PoolKeeper({
      runtimes: { list: () => [], get: () => undefined }, pods: world.pods, kube: world.kube, settings: testConfig(), watchNamespaces: [],
      metrics: createMetrics(new Registry()), log: silentLogger(), counted: () => {}, now: () => world.clock,
    });
    world.keeper.runtimesChanged();
    await until(() => world.pool().length === 2, "the started keeper fills its pool");
    world.sync();
    // A keeper that sees no runtime yet would delete every pool pod it hears of.
    for (const pod of world.pool()) keeper.podChanged(pod);
    await settle();
    assert.equal(world.pool().length, 2, "the unstarted keeper deleted nothing");
    keeper.start();
    await until(() => world.pool().length === 0, "once started, it acts on what it sees");
    await keeper.shutdown();
  });

  it("fills each listed namespace's pool to its size with pods of the runtime's current template", async () => {
    const runtime = pooledRuntime({ size: 2, namespaces: ["a", "b"] });
    await filled([runtime], { start: false });
    for (const namespace of ["a", "b"]) {
      const pods = world.pool(namespace);
      assert.equal(pods.length, 2, namespace);
      for (const pod of pods) {
        assert.equal(pod.metadata?.labels?.[TEMPLATE_LABEL], templateOf(world, runtime));
        assert.equal(pod.metadata?.ownerReferences?.[0]?.uid, "uid-runtime-python");
      }
    }
    assert.equal(world.server.size, 4);
  });

  it("creates no more pods while the cache has not shown the ones it created", async () => {
    world = new World([pooledRuntime({ size: 3, namespaces: ["a"] })]);
    world.keeper.runtimesChanged();
    await until(() => world.pool().length === 3, "the pool is filled");
    await world.reconcileAgain();
    await world.reconcileAgain();
    assert.equal(world.pool().length, 3, "a reconcile before the cache caught up overfilled the pool");
    const [first] = world.names();
    world.sync((pod) => pod.metadata?.name === first);
    await world.reconcileAgain();
    assert.equal(world.pool().length, 3, "the cache showed one of three");
    world.sync();
    await world.reconcileAgain();
    assert.equal(world.pool().length, 3);
  });

  it("neither deletes again nor replaces twice a pod whose deletion the cache has not shown", async () => {
    await filled([pooledRuntime({ size: 3, namespaces: ["a"] })]);
    const [failed] = world.pool();
    world.update(failed!, { phase: "Failed", reason: "Evicted" });
    world.sync();
    await until(() => !world.names().includes(failed!.metadata!.name!) && world.pool().length === 3, "the failed pod is replaced");
    await settle();
    const after = world.names();
    await world.reconcileAgain();
    await world.reconcileAgain();
    assert.deepEqual(world.names(), after);
  });

  it("does not count a pod it deleted while the cache still shows it", async () => {
    await filled([pooledRuntime({ size: 3, namespaces: ["a"] })], { start: false });
    const [slow, taken, kept] = world.pool();
    world.start([taken!, kept!]);
    world.sync();
    await settle();
    world.runtimes = [pooledRuntime({ size: 2, namespaces: ["a"] })];
    world.keeper.runtimesChanged();
    await until(() => world.pool().length === 2, "the pool shrank to 2");
    // The cache still shows the deleted pod when a run claims another.
    world.claim(taken!);
    world.sync((pod) => pod.metadata?.name === taken!.metadata!.name);
    world.keeper.claimed("python", "a", taken!.metadata!.name!);
    world.clock += 250;
    await until(() => world.pool().length === 2, "the claimed pod is replaced");
    await settle();
    assert.equal(world.pool().length, 2);
    assert.ok(world.names().includes(kept!.metadata!.name!));
    assert.ok(!world.names().includes(slow!.metadata!.name!));
  });

  it("gives up waiting for a created pod the cache never shows after 30 s, and creates another", async () => {
    world = new World([pooledRuntime({ size: 1, namespaces: ["a"] })]);
    world.keeper.runtimesChanged();
    await until(() => world.pool().length === 1, "the pool is filled");
    const [lost] = world.names();
    await world.kube.deletePod("a", lost!);
    world.clock += 10_000;
    await world.reconcileAgain();
    assert.equal(world.pool().length, 0, "within 30 s the pod is still expected");
    world.clock += 21_000;
    await world.reconcileAgain();
    assert.equal(world.pool().length, 1);
    assert.notEqual(world.names()[0], lost);
  });

  it("refills its pool when a run claims a pod, leaving the claimed pod to its run", async () => {
    await filled([pooledRuntime({ size: 2, namespaces: ["a"] })]);
    const [taken] = world.pool();
    world.claim(taken!);
    world.sync();
    world.keeper.claimed("python", "a", taken!.metadata!.name!);
    world.clock += 250;
    await until(() => world.pool().length === 2, "the pool is refilled");
    await settle();
    assert.equal(world.pool().length, 2);
    assert.equal(world.server.size, 3);
    const claimed = world.server.get(`a/${taken!.metadata!.name}`);
    assert.equal(claimed?.metadata?.labels?.["scriptrun.dev/run"], "claimer", "the claimed pod is its run's");
  });

  it("refills after a claim once its run is done with the pod, or 250 ms after the claim: the new pod's start does not compete with the run", async () => {
    await filled([pooledRuntime({ size: 2, namespaces: ["a"] })]);
    const [first, second] = world.pool();
    world.claim(first!);
    world.keeper.claimed("python", "a", first!.metadata!.name!);
    world.sync();
    await settle();
    world.clock += 249;
    await world.reconcileAgain();
    assert.equal(world.pool().length, 1, "not yet");
    world.clock += 1;
    await until(() => world.pool().length === 2, "the pool is refilled 250 ms after the claim");
    // The claim's own pod event, before the claimer said it claimed: it waits as well.
    world.claim(second!);
    const claimed = world.server.get(`a/${second!.metadata!.name}`)!;
    claimed.metadata!.annotations = { ...claimed.metadata!.annotations, [START_ANNOTATION]: "warm",
      [CLAIMED_AT_ANNOTATION]: new Date(world.clock).toISOString() };
    world.keeper.podChanged(structuredClone(claimed));
    world.sync();
    await world.reconcileAgain();
    assert.equal(world.pool().length, 1, "not yet");
    // The run finished sooner: its claimed pod's end refills the pool at once.
    world.keeper.podChanged({ ...structuredClone(claimed), metadata: { ...claimed.metadata, deletionTimestamp: new Date(world.clock) } });
    await until(() => world.pool().length === 2, "the pool is refilled as its run ends");
  });

  it("never deletes a pod a run claimed after the cache last showed it", async () => {
    await filled([pooledRuntime({ size: 2, namespaces: ["a"] })]);
    const [taken] = world.pool();
    // The runtime changes (its pods are now outdated) while a run claims one the cache still shows pooled.
    world.claim(taken!);
    world.runtimes = [pooledRuntime({ size: 2, namespaces: ["a"] }, { image: "localhost/scriptrun/runner:next" })];
    world.keeper.runtimesChanged();
    await until(() => world.pool().length === 2 && world.pool().every((p) => p.spec?.containers[0]?.image === "localhost/scriptrun/runner:next"), "the outdated pool is replaced");
    await settle();
    assert.ok(world.server.has(`a/${taken!.metadata!.name}`), "the claimed pod was deleted under its run");
  });

  it("replaces pods that ended, failed or were evicted", async () => {
    await filled([pooledRuntime({ size: 3, namespaces: ["a"] })]);
    const [done, failed, evicted] = world.pool();
    world.update(done!, { phase: "Succeeded", containerStatuses: [{ name: "runner", image: "i", imageID: "", ready: false, restartCount: 0, state: terminated(undefined) }] });
    world.update(failed!, { phase: "Failed", containerStatuses: [{ name: "runner", image: "i", imageID: "", ready: false, restartCount: 0, state: terminated(undefined, { exitCode: 1, reason: "Error" }) }] });
    world.update(evicted!, { phase: "Failed", reason: "Evicted" });
    const old = [done, failed, evicted].map((p) => p!.metadata!.name!);
    world.sync();
    await until(() => world.pool().length === 3 && world.names().every((n) => !old.includes(n)), "the ended pods are replaced");
    await settle();
    assert.equal(world.pool().length, 3);
  });

  it("replaces pods of an earlier template when the runtime's pod changes", async () => {
    await filled([pooledRuntime({ size: 2, namespaces: ["a"] })]);
    const old = world.names();
    const changed = pooledRuntime({ size: 2, namespaces: ["a"] }, { image: "localhost/scriptrun/runner:next" });
    world.runtimes = [changed];
    world.keeper.runtimesChanged();
    await until(() => world.pool().length === 2 && world.names().every((n) => !old.includes(n)), "the outdated pods are replaced");
    world.sync();
    await settle();
    assert.equal(world.pool().length, 2);
    for (const pod of world.pool()) {
      assert.equal(pod.spec?.containers[0]?.image, "localhost/scriptrun/runner:next");
      assert.equal(pod.metadata?.labels?.[TEMPLATE_LABEL], templateOf(world, changed));
    }
  });

  it("keeps its pods when the runtime changes in what they do not carry", async () => {
    await filled([pooledRuntime({ size: 2, namespaces: ["a"] })]);
    const before = world.names();
    world.runtimes = [pooledRuntime({ size: 2, namespaces: ["a"] }, { imports: { deny: ["socket"] }, modules: ["numpy"] })];
    await world.reconcileAgain();
    assert.deepEqual(world.names(), before);
  });

  it("grows a pool whose size grows", async () => {
    await filled([pooledRuntime({ size: 1, namespaces: ["a"] })]);
    const [kept] = world.names();
    world.runtimes = [pooledRuntime({ size: 3, namespaces: ["a"] })];
    world.keeper.runtimesChanged();
    await until(() => world.pool().length === 3, "the pool grew");
    await settle();
    assert.equal(world.pool().length, 3);
    assert.ok(world.names().includes(kept!));
  });

  it("shrinks a pool whose size shrinks, removing the pods not yet ready first", async () => {
    await filled([pooledRuntime({ size: 3, namespaces: ["a"] })], { start: false });
    const [slow, ...started] = world.pool();
    world.start(started);
    world.sync();
    await settle();
    world.runtimes = [pooledRuntime({ size: 2, namespaces: ["a"] })];
    world.keeper.runtimesChanged();
    await until(() => world.pool().length === 2, "the pool shrank to 2");
    await settle();
    assert.deepEqual(world.names(), started.map((p) => p.metadata!.name!).sort());
    assert.ok(!world.names().includes(slow!.metadata!.name!));
    world.runtimes = [pooledRuntime({ size: 1, namespaces: ["a"] })];
    world.keeper.runtimesChanged();
    await until(() => world.pool().length === 1, "the pool shrank to 1");
    await settle();
    assert.equal(world.pool().length, 1);
  });

  it("removes every pool of a runtime that was deleted", async () => {
    await filled([pooledRuntime({ size: 2, namespaces: ["a", "b"] })]);
    world.runtimes = [];
    world.keeper.runtimesChanged();
    await until(() => world.server.size === 0, "every pool pod is gone");
    world.sync();
    await settle();
    assert.equal(world.server.size, 0);
    assert.deepEqual(world.keeper.poolsOf("python"), []);
  });

  it("removes the pool of a namespace the runtime no longer lists, keeping the others", async () => {
    await filled([pooledRuntime({ size: 2, namespaces: ["a", "b"] })]);
    const inA = world.names("a");
    world.runtimes = [pooledRuntime({ size: 2, namespaces: ["a"] })];
    world.keeper.runtimesChanged();
    await until(() => world.pool("b").length === 0, "b's pool is gone");
    world.sync();
    await settle();
    assert.deepEqual(world.names("a"), inA);
    assert.equal(world.pool("b").length, 0);
    assert.deepEqual(world.keeper.poolsOf("python").map((p) => p.namespace), ["a"]);
  });

  it("removes every pod when the size goes to 0", async () => {
    await filled([pooledRuntime({ size: 2, namespaces: ["a"] })]);
    world.runtimes = [pooledRuntime({ size: 0, namespaces: ["a"] })];
    world.keeper.runtimesChanged();
    await until(() => world.server.size === 0, "the pool is empty");
    world.sync();
    await settle();
    assert.equal(world.server.size, 0);
    assert.deepEqual(world.keeper.poolsOf("python"), []);
  });

  it("keeps no pool in a namespace the controller does not watch", async () => {
    await filled([pooledRuntime({ size: 2, namespaces: ["a", "b"] })], { watch: ["a"], start: false });
    assert.equal(world.pool("a").length, 2);
    assert.equal(world.pool("b").length, 0);
    assert.deepEqual(world.keeper.poolsOf("python"), [{ namespace: "a", ready: 0, desired: 2 }]);
  });

  it("keeps the pools of two runtimes in one namespace apart", async () => {
    await filled([pooledRuntime({ size: 1, namespaces: ["a"] }), pooledRuntime({ size: 2, namespaces: ["a"] }, {}, "python-ds")]);
    await world.reconcileAgain();
    assert.equal(world.pool("a", "python").length, 1);
    assert.equal(world.pool("a", "python-ds").length, 2);
    assert.deepEqual(world.keeper.poolsOf("python"), [{ namespace: "a", ready: 1, desired: 1 }]);
    assert.deepEqual(world.keeper.poolsOf("python-ds"), [{ namespace: "a", ready: 2, desired: 2 }]);
  });

  it("reports the ready and desired pods of each pool, by namespace", async () => {
    await filled([pooledRuntime({ size: 2, namespaces: ["b", "a"] })], { start: false });
    assert.deepEqual(world.keeper.poolsOf("python"), [{ namespace: "a", ready: 0, desired: 2 }, { namespace: "b", ready: 0, desired: 2 }]);
    world.start(world.pool("a"));
    world.sync();
    await until(() => world.keeper.poolsOf("python")[0]?.ready === 2, "a's pods are counted ready");
    await settle();
    assert.deepEqual(world.keeper.poolsOf("python"), [{ namespace: "a", ready: 2, desired: 2 }, { namespace: "b", ready: 0, desired: 2 }]);
  });

  it("tells when a runtime's counts changed, and not when they did not", async () => {
    await filled([pooledRuntime({ size: 2, namespaces: ["a"] })], { start: false });
    assert.ok(world.counted.includes("python"), "the new pool was told");
    const told = world.counted.length;
    await world.reconcileAgain();
    assert.equal(world.counted.length, told, "nothing changed");
    world.start();
    world.sync();
    await until(() => world.counted.length > told, "the ready pods were told");
    assert.deepEqual(new Set(world.counted), new Set(["python"]));
    assert.deepEqual(world.keeper.poolsOf("python"), [{ namespace: "a", ready: 2, desired: 2 }]);
  });
});

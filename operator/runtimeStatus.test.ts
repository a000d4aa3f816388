import assert from "node:assert/strict";
import { silentLogger } from "../core/log.js";
import { DEFAULT_RUNTIME_ANNOTATION, type ScriptRuntime, type ScriptRuntimeStatus, type WarmPoolStatus } from "../crds/runtime.js";
import type { EventNote } from "./events.js";
import { RuntimeKeeper } from "./runtimeKeeper.js";
import { type PullObservation, runtimeStatus, sameStatus } from "./runtimeStatus.js";
import { T0, aRuntime } from "./testkit.js";

const IMAGE = "localhost/scriptrun/runner:test";
const LATER = T0 + 60_000;
const at = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

type Summary = Record<string, { status: string; reason: string; message?: string }>;

/** The conditions of a status by type, without their times. */
function byType(status: ScriptRuntimeStatus | undefined): Summary {
  return Object.fromEntries((status?.conditions ?? []).map((c) => [c.type, { status: c.status, reason: c.reason, message: c.message }]));
}

function condition(status: ScriptRuntimeStatus | undefined, type: string) {
  return status?.conditions?.find((c) => c.type === type);
}

/** An object with its keys in alphabetical order at every depth, as the apiserver serves a custom
 * resource (it decodes it into a Go map and encodes it again). */
function asServed<T>(value: T): T {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v !== null && typeof v === "object") {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return sort(JSON.parse(JSON.stringify(value))) as T;
}

const pulled = (ok: boolean, image = IMAGE, message = ""): PullObservation => ({ image, ok, message });

describe("the status of a runtime", () => {
  describe("Accepted", () => {
    it("is True for a usable spec", () => {
      const runtime = aRuntime("plain", {}, { isDefault: false });
      assert.deepEqual(byType(runtimeStatus(runtime, [runtime], undefined, T0)), {
        Accepted: { status: "True", reason: "Valid", message: "Runs may use this runtime" },
      });
    });

    it("is False with every problem of a spec the controller refuses", () => {
      const runtime = aRuntime("plain", { defaults: { cpu: "4", pids: 4096 } }, { isDefault: false });
      assert.deepEqual(byType(runtimeStatus(runtime, [runtime], undefined, T0)).Accepted, {
        status: "False", reason: "InvalidSpec",
        message: "Runs on this runtime are refused: defaults.cpu exceeds maxima.cpu; defaults.pids exceeds maxima.pids",
      });
    });

    it("is False for a spec the schema refuses, naming the field", () => {
      const runtime = { ...aRuntime("plain", {}, { isDefault: false }), spec: { image: "" } };
      const accepted = byType(runtimeStatus(runtime, [runtime], undefined, T0)).Accepted;
      assert.equal(accepted?.status, "False");
      assert.equal(accepted?.reason, "InvalidSpec");
      assert.match(accepted?.message ?? "", /^Runs on this runtime are refused: spec\.image: /);
    });
  });

  describe("Default", () => {
    it("is absent on a runtime not annotated default", () => {
      const plain = aRuntime("plain", {}, { isDefault: false });
      assert.equal(condition(runtimeStatus(plain, [aRuntime("python"), plain], undefined, T0), "Default"), undefined);
    });

    it("is absent on a runtime annotated with anything but \"true\"", () => {
      const runtime = aRuntime("plain", {}, { isDefault: false });
      runtime.metadata.annotations = { [DEFAULT_RUNTIME_ANNOTATION]: "false" };
      assert.equal(condition(runtimeStatus(runtime, [runtime], undefined, T0), "Default"), undefined);
    });

    it("is True on the one runtime annotated default", () => {
      const python = aRuntime("python");
      assert.deepEqual(byType(runtimeStatus(python, [python, aRuntime("plain", {}, { isDefault: false })], undefined, T0)).Default, {
        status: "True", reason: "Default", message: "Runs that name no runtime run on this one",
      });
    });

    it("is False on each of two runtimes annotated default, naming the other", () => {
      const a = aRuntime("a", {}, { isDefault: true });
      const b = aRuntime("b", {}, { isDefault: true });
      assert.deepEqual(byType(runtimeStatus(a, [a, b], undefined, T0)).Default, {
        status: "False", reason: "MultipleDefaults",
        message: `b is annotated ${DEFAULT_RUNTIME_ANNOTATION} too: runs that name no runtime are refused until one default remains`,
      });
      assert.match(byType(runtimeStatus(b, [a, b], undefined, T0)).Default?.message ?? "", /^a is annotated/);
    });

    it("is False on each of three runtimes annotated default, naming the others sorted", () => {
      const runtimes = ["c", "a", "b"].map((name) => aRuntime(name, {}, { isDefault: true }));
      assert.match(byType(runtimeStatus(runtimes[0]!, runtimes, undefined, T0)).Default?.message ?? "", /^a, b are annotated /);
    });

    it("is True again once the other default lost its annotation", () => {
      const a = aRuntime("a", {}, { isDefault: true });
      assert.equal(byType(runtimeStatus(a, [a, aRuntime("b", {}, { isDefault: false })], undefined, T0)).Default?.status, "True");
    });

    it("is there on an annotated runtime whose spec is refused", () => {
      const python = aRuntime("python", { defaults: { cpu: "9" } });
      assert.deepEqual(Object.keys(byType(runtimeStatus(python, [python], undefined, T0))), ["Accepted", "Default"]);
    });
  });

  describe("ImagePulled", () => {
    const python = aRuntime("python");

    it("is absent until a run told of the image", () => {
      assert.equal(condition(runtimeStatus(python, [python], undefined, T0), "ImagePulled"), undefined);
    });

    it("is True once a runner pod started from the runtime's image", () => {
      assert.deepEqual(byType(runtimeStatus(python, [python], pulled(true), T0)).ImagePulled, {
        status: "True", reason: "Pulled", message: `A runner pod started from ${IMAGE}`,
      });
    });

    it("is False with the kubelet's message when the image could not be pulled", () => {
      const message = `Failed to pull image "${IMAGE}": not found`;
      assert.deepEqual(byType(runtimeStatus(python, [python], pulled(false, IMAGE, message), T0)).ImagePulled, {
        status: "False", reason: "ImagePullFailed", message,
      });
    });

    it("is absent when what was observed is another image than the spec's", () => {
      assert.equal(condition(runtimeStatus(python, [python], pulled(false, "localhost/scriptrun/runner:old", "gone"), T0), "ImagePulled"), undefined);
      assert.equal(condition(runtimeStatus(python, [python], pulled(true, "localhost/scriptrun/runner:old"), T0), "ImagePulled"), undefined);
    });
  });

  describe("generations and times", () => {
    it("carries the runtime's generation on the status and on every condition", () => {
      const python = aRuntime("python", {}, { generation: 4 });
      const status = runtimeStatus(python, [python], pulled(true), T0);
      assert.equal(status.observedGeneration, 4);
      assert.deepEqual(status.conditions?.map((c) => c.observedGeneration), [4, 4, 4]);
    });

    it("carries no generation when the runtime has none", () => {
      const python = aRuntime("python");
      delete python.metadata.generation;
      const status = runtimeStatus(python, [python], undefined, T0);
      assert.equal("observedGeneration" in status, false);
      assert.ok(status.conditions?.every((c) => !("observedGeneration" in c)));
    });

    it("stamps a new condition with now", () => {
      const python = aRuntime("python");
      assert.deepEqual(runtimeStatus(python, [python], pulled(true), T0).conditions?.map((c) => c.lastTransitionTime), [at(T0), at(T0), at(T0)]);
    });

    it("keeps a condition's time while its status stays, even when its reason or message changes", () => {
      const python = aRuntime("python", {}, { generation: 1 });
      const before = runtimeStatus(python, [python], pulled(false, IMAGE, "first try"), T0);
      const edited = { ...aRuntime("python", { requireObjectResult: true }, { generation: 2 }), status: asServed(before) };
      const after = runtimeStatus(edited, [edited], pulled(false, IMAGE, "second try"), LATER);
      assert.equal(condition(after, "Accepted")?.lastTransitionTime, at(T0));
      assert.equal(condition(after, "Default")?.lastTransitionTime, at(T0));
      assert.equal(condition(after, "ImagePulled")?.lastTransitionTime, at(T0));
      assert.equal(condition(after, "ImagePulled")?.message, "second try");
      assert.equal(condition(after, "Accepted")?.observedGeneration, 2);
    });

    it("moves a condition's time when its status changes, and only that one's", () => {
      const a = aRuntime("a", {}, { isDefault: true });
      const before = runtimeStatus(a, [a], undefined, T0);
      const now = { ...a, status: before };
      const after = runtimeStatus(now, [now, aRuntime("b", {}, { isDefault: true })], undefined, LATER);
      assert.equal(condition(after, "Default")?.status, "False");
      assert.equal(condition(after, "Default")?.lastTransitionTime, at(LATER));
      assert.equal(condition(after, "Accepted")?.lastTransitionTime, at(T0));
    });

    it("stamps a condition that comes back after it was dropped with now", () => {
      const python = aRuntime("python");
      const before = runtimeStatus(python, [python], undefined, T0);
      const after = runtimeStatus({ ...python, status: before }, [python], pulled(true), LATER);
      assert.equal(condition(after, "ImagePulled")?.lastTransitionTime, at(LATER));
    });

    it("keeps what it said of the image when it heard nothing since (a restarted controller), until the spec changes", () => {
      const python = aRuntime("python", {}, { generation: 3 });
      const said = runtimeStatus(python, [python], pulled(false, IMAGE, "could not pull"), T0);
      const restarted = runtimeStatus({ ...python, status: asServed(said) }, [python], undefined, LATER);
      assert.equal(condition(restarted, "ImagePulled")?.status, "False");
      assert.equal(condition(restarted, "ImagePulled")?.message, "could not pull");
      assert.equal(condition(restarted, "ImagePulled")?.lastTransitionTime, at(T0));
      const edited = { ...aRuntime("python", { image: "localhost/scriptrun/runner:next" }, { generation: 4 }), status: asServed(said) };
      assert.equal(condition(runtimeStatus(edited, [edited], undefined, LATER), "ImagePulled"), undefined);
    });

    it("drops the conditions the runtime no longer has", () => {
      const python = aRuntime("python");
      const before = runtimeStatus(python, [python], pulled(true), T0);
      const unannotated = { ...aRuntime("python", { image: "localhost/scriptrun/runner:next" }, { isDefault: false }), status: before };
      assert.deepEqual(Object.keys(byType(runtimeStatus(unannotated, [unannotated], pulled(true), LATER))), ["Accepted"]);
    });
  });
});

describe("comparing runtime statuses", () => {
  const python = aRuntime("python");
  const status = runtimeStatus(python, [python], pulled(true), T0);

  it("finds a status the same as itself rebuilt later, times aside", () => {
    assert.equal(sameStatus(status, runtimeStatus(python, [python], pulled(true), LATER)), true);
  });

  it("finds a status read back from the apiserver, its keys in alphabetical order, the same", () => {
    assert.equal(sameStatus(asServed(status), runtimeStatus(python, [python], pulled(true), LATER)), true);
  });

  it("finds no status different from any status", () => {
    assert.equal(sameStatus(undefined, status), false);
    assert.equal(sameStatus({}, status), false);
  });

  it("finds a status of another generation different", () => {
    const next = aRuntime("python", {}, { generation: 2 });
    assert.equal(sameStatus(status, runtimeStatus(next, [next], pulled(true), T0)), false);
  });

  it("finds a condition of another status, reason or message different", () => {
    assert.equal(sameStatus(status, runtimeStatus(python, [python], pulled(false, IMAGE, "x"), T0)), false);
    const other = runtimeStatus(python, [python], pulled(false, IMAGE, "y"), T0);
    assert.equal(sameStatus(runtimeStatus(python, [python], pulled(false, IMAGE, "x"), T0), other), false);
  });

  it("finds a missing or an extra condition different", () => {
    assert.equal(sameStatus(status, runtimeStatus(python, [python], undefined, T0)), false);
    assert.equal(sameStatus(runtimeStatus(python, [python], undefined, T0), status), false);
  });
});

/** Runtimes as the apiserver and the controller's cache hold them, status writes applied. */
class FakeCluster {
  readonly runtimes = new Map<string, ScriptRuntime>();
  readonly events: Array<{ runtime: string } & EventNote> = [];
  writes = 0;
  /** Reads of one runtime by the keeper: only to know it got to a key. */
  reads = 0;
  failNextWrites = 0;
  time = T0;
  /** Each runtime's warm pools, as the pool keeper would count them. */
  readonly pools = new Map<string, WarmPoolStatus[]>();

  constructor(...runtimes: ScriptRuntime[]) {
    for (const runtime of runtimes) this.put(runtime);
  }

  put(runtime: ScriptRuntime): void {
    this.runtimes.set(runtime.metadata.name!, asServed(runtime));
  }

  status(name: string): ScriptRuntimeStatus | undefined {
    return this.runtimes.get(name)?.status;
  }

  keeper(): RuntimeKeeper {
    return new RuntimeKeeper({
      list: () => [...this.runtimes.values()],
      get: (name) => {
        this.reads++;
        return this.runtimes.get(name);
      },
      patchStatus: async (name, patch) => {
        if (this.failNextWrites > 0) {
          this.failNextWrites--;
          throw new Error("etcdserver: request timed out");
        }
        const runtime = this.runtimes.get(name);
        if (!runtime) return false;
        this.writes++;
        // As the apiserver applies a JSON merge patch: the keys it names, null removing one; the
        // conditions list is replaced as a whole.
        const merged: Record<string, unknown> = { ...runtime.status };
        for (const [key, value] of Object.entries(patch)) {
          if (value === null) delete merged[key];
          else merged[key] = value;
        }
        this.runtimes.set(name, asServed({ ...runtime, status: merged as ScriptRuntimeStatus }));
        return true;
      },
      record: async (runtime, note) => {
        this.events.push({ runtime: runtime.metadata.name ?? "", ...note });
      },
      pools: (name) => this.pools.get(name) ?? [],
      log: silentLogger(),
      now: () => this.time,
    });
  }
}

async function until(what: string, condition: () => boolean, timeoutMs = 1500): Promise<void> {
  // Always yields first, so that the keeper finishes the key it is on (a write is seen before
  // the keeper is done with its key).
  const deadline = Date.now() + timeoutMs;
  do {
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
  } while (!condition());
}

describe("the runtime keeper", () => {
  let keeper: RuntimeKeeper | undefined;
  afterEach(async () => {
    await keeper?.shutdown();
    keeper = undefined;
  });

  it("writes the status of every runtime when one changed", async () => {
    const cluster = new FakeCluster(aRuntime("python"), aRuntime("python-datascience", { modules: ["sklearn"] }));
    keeper = cluster.keeper();
    keeper.changed();
    await until("both statuses are written", () => cluster.status("python") !== undefined && cluster.status("python-datascience") !== undefined);
    assert.deepEqual(byType(cluster.status("python")), {
      Accepted: { status: "True", reason: "Valid", message: "Runs may use this runtime" },
      Default: { status: "True", reason: "Default", message: "Runs that name no runtime run on this one" },
    });
    assert.deepEqual(byType(cluster.status("python-datascience")), {
      Accepted: { status: "True", reason: "Valid", message: "Runs may use this runtime" },
    });
    assert.equal(cluster.status("python")?.observedGeneration, 1);
    assert.equal(condition(cluster.status("python"), "Accepted")?.lastTransitionTime, at(T0));
    assert.deepEqual(cluster.events, []);
  });

  it("updates a runtime that did not change when another one became default too", async () => {
    const cluster = new FakeCluster(aRuntime("python"));
    keeper = cluster.keeper();
    keeper.changed();
    await until("python is default", () => condition(cluster.status("python"), "Default")?.status === "True");
    cluster.time = LATER;
    cluster.put(aRuntime("slim", {}, { isDefault: true }));
    keeper.changed();
    await until("both are refused as defaults", () => condition(cluster.status("python"), "Default")?.status === "False"
      && condition(cluster.status("slim"), "Default")?.status === "False");
    assert.match(condition(cluster.status("python"), "Default")?.message ?? "", /^slim is annotated/);
    assert.equal(condition(cluster.status("python"), "Default")?.lastTransitionTime, at(LATER));
    assert.equal(condition(cluster.status("python"), "Accepted")?.lastTransitionTime, at(T0), "Accepted did not change");
  });

  it("records a Warning event on each runtime whose condition turned False", async () => {
    const cluster = new FakeCluster(aRuntime("a", {}, { isDefault: true }), aRuntime("b", {}, { isDefault: true }));
    keeper = cluster.keeper();
    keeper.changed();
    await until("both runtimes have an event", () => cluster.events.length >= 2);
    assert.deepEqual(cluster.events.map((e) => [e.runtime, e.type, e.reason]).sort(),
      [["a", "Warning", "MultipleDefaults"], ["b", "Warning", "MultipleDefaults"]]);
    assert.equal(cluster.events.find((e) => e.runtime === "a")?.message, condition(cluster.status("a"), "Default")?.message);
  });

  it("records a refused spec as a Warning event naming its problem", async () => {
    const cluster = new FakeCluster(aRuntime("python", { defaults: { memory: "4Gi" } }));
    keeper = cluster.keeper();
    keeper.changed();
    await until("an event is recorded", () => cluster.events.length > 0);
    await keeper.shutdown();
    assert.deepEqual(cluster.events, [{
      runtime: "python", type: "Warning", reason: "InvalidSpec",
      message: "Runs on this runtime are refused: defaults.memory exceeds maxima.memory",
    }]);
    assert.equal(condition(cluster.status("python"), "Accepted")?.status, "False");
  });

  it("records no second event while a condition stays False", async () => {
    const cluster = new FakeCluster(aRuntime("python", { defaults: { memory: "4Gi" } }));
    keeper = cluster.keeper();
    keeper.changed();
    await until("an event is recorded", () => cluster.events.length > 0);
    cluster.time = LATER;
    cluster.put({ ...aRuntime("python", { defaults: { memory: "4Gi", cpu: "3" } }, { generation: 2 }), status: cluster.status("python") });
    keeper.changed();
    await until("the new problem is in the status", () => /defaults\.cpu/.test(condition(cluster.status("python"), "Accepted")?.message ?? ""));
    await keeper.shutdown();
    assert.equal(cluster.events.length, 1);
    assert.equal(condition(cluster.status("python"), "Accepted")?.lastTransitionTime, at(T0));
  });

  it("records an event again when a condition turns False after it was True", async () => {
    const cluster = new FakeCluster(aRuntime("python"));
    keeper = cluster.keeper();
    keeper.changed();
    await until("the status is written", () => cluster.status("python") !== undefined);
    cluster.put({ ...aRuntime("python", { maxima: { pids: 8 } }, { generation: 2 }), status: cluster.status("python") });
    keeper.changed();
    await until("an event is recorded", () => cluster.events.length > 0);
    assert.deepEqual(cluster.events.map((e) => e.reason), ["InvalidSpec"]);
  });

  it("writes nothing on the next change once the status it wrote is stored", async () => {
    const cluster = new FakeCluster(aRuntime("python"));
    keeper = cluster.keeper();
    keeper.changed();
    await until("the status is written", () => cluster.writes === 1);
    keeper.changed();
    await keeper.shutdown();
    assert.equal(cluster.writes, 1);
  });

  it("says how warm its pools are, and nothing of them once they are gone, then writes nothing more", async () => {
    const cluster = new FakeCluster(aRuntime("python"));
    cluster.pools.set("python", [{ namespace: "team-a", ready: 1, desired: 2 }]);
    keeper = cluster.keeper();
    keeper.changed();
    await until("the pool is told", () => cluster.status("python")?.warm === "1/2");
    cluster.pools.set("python", []);
    keeper.changed();
    await until("the pool is no longer told", () => cluster.status("python")?.warm === undefined);
    assert.equal(cluster.status("python")?.warmPools, undefined);
    const writes = cluster.writes;
    keeper.changed();
    await keeper.shutdown();
    assert.equal(cluster.writes, writes);
  });

  it("marks the image pulled once a run's pod started from it", async () => {
    const cluster = new FakeCluster(aRuntime("python"));
    keeper = cluster.keeper();
    keeper.observedImage({ name: "python", image: IMAGE }, true);
    await until("ImagePulled is in the status", () => condition(cluster.status("python"), "ImagePulled") !== undefined);
    assert.deepEqual(byType(cluster.status("python")).ImagePulled, { status: "True", reason: "Pulled", message: `A runner pod started from ${IMAGE}` });
    assert.deepEqual(cluster.events, []);
  });

  it("marks the image not pulled, with a Warning event, when a run's pod could not pull it", async () => {
    const cluster = new FakeCluster(aRuntime("python"));
    keeper = cluster.keeper();
    const message = `image "${IMAGE}" could not be pulled: not found`;
    keeper.observedImage({ name: "python", image: IMAGE }, false, message);
    await until("an event is recorded", () => cluster.events.length > 0);
    assert.deepEqual(byType(cluster.status("python")).ImagePulled, { status: "False", reason: "ImagePullFailed", message });
    assert.deepEqual(cluster.events, [{ runtime: "python", type: "Warning", reason: "ImagePullFailed", message }]);
  });

  it("clears ImagePulled once the runtime's image changed", async () => {
    const cluster = new FakeCluster(aRuntime("python"));
    keeper = cluster.keeper();
    keeper.observedImage({ name: "python", image: IMAGE }, true);
    await until("ImagePulled is in the status", () => condition(cluster.status("python"), "ImagePulled") !== undefined);
    cluster.put({ ...aRuntime("python", { image: "localhost/scriptrun/runner:next" }, { generation: 2 }), status: cluster.status("python") });
    keeper.changed();
    await until("the new generation is observed", () => cluster.status("python")?.observedGeneration === 2);
    assert.deepEqual(Object.keys(byType(cluster.status("python"))), ["Accepted", "Default"]);
  });

  it("keeps what it saw of the current image when a run on the former image reports late", async () => {
    const next = "localhost/scriptrun/runner:next";
    const cluster = new FakeCluster(aRuntime("python", { image: next }, { generation: 2 }));
    keeper = cluster.keeper();
    keeper.observedImage({ name: "python", image: next }, false, `image "${next}" could not be pulled`);
    await until("an event is recorded", () => cluster.events.length > 0);
    // A run that started on the former image is reconciled again, and tells of that image.
    keeper.observedImage({ name: "python", image: IMAGE }, true);
    await keeper.shutdown();
    assert.equal(condition(cluster.status("python"), "ImagePulled")?.status, "False");
  });

  it("forgets what it heard of a runtime that did not exist, should one of that name come", async () => {
    const cluster = new FakeCluster();
    keeper = cluster.keeper();
    keeper.observedImage({ name: "python", image: IMAGE }, false, "not found");
    await until("the keeper looked for the runtime", () => cluster.reads > 0);
    cluster.put(aRuntime("python"));
    keeper.changed();
    await until("the status is written", () => cluster.status("python") !== undefined);
    assert.equal(condition(cluster.status("python"), "ImagePulled"), undefined);
  });

  it("records no event for a runtime deleted before its status was written", async () => {
    const cluster = new FakeCluster(aRuntime("python", { defaults: { cpu: "9" } }));
    const runtimes = cluster.runtimes;
    keeper = new RuntimeKeeper({
      list: () => [...runtimes.values()],
      get: (name) => runtimes.get(name),
      patchStatus: async () => false,
      record: async (runtime, note) => {
        cluster.events.push({ runtime: runtime.metadata.name ?? "", ...note });
      },
      pools: () => [],
      log: silentLogger(),
      now: () => T0,
    });
    keeper.changed();
    await keeper.shutdown();
    assert.deepEqual(cluster.events, []);
  });

  it("retries a status write that failed", async () => {
    const cluster = new FakeCluster(aRuntime("python"));
    cluster.failNextWrites = 1;
    keeper = cluster.keeper();
    keeper.changed();
    await until("the status is written", () => cluster.status("python") !== undefined, 1800);
    assert.equal(condition(cluster.status("python"), "Accepted")?.status, "True");
  }).timeout(3000);
});

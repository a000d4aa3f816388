// Warm runs against an in-memory apiserver that applies claims with optimistic concurrency, and
// warm runners that record what reached their stdin and answer when the test says.
import assert from "node:assert/strict";
import type { ObjectCache, V1Pod } from "@kubernetes/client-node";
import { type Envelope, parseTerminationMessage } from "../core/envelope.js";
import { silentLogger } from "../core/log.js";
import { type RunnerRequest, resolveRequest } from "../core/request.js";
import { type Runtime, runtimeLimits } from "../core/runtime.js";
import type { ScriptRun } from "../crds/schema.js";
import { ownerRunUid } from "./names.js";
import { T0, aParsedRuntime, applyMergePatch, aRun, envelope, running, testConfig } from "./testkit.js";
import type { Attacher, AttachResult, HeldAttach } from "./warmAttach.js";
import { POOL_LABEL, poolPod, requestFrame, startedWarm, templateOf } from "./warmPool.js";
import { WarmRuns } from "./warmRuns.js";

const settings = testConfig();
const POOL = { warmPool: { size: 2, namespaces: ["default"] } };
const runtime = aParsedRuntime("python", POOL);
const other = aParsedRuntime("python-ds", POOL);

function requestOf(run: ScriptRun, on: Runtime = runtime): RunnerRequest {
  const resolution = resolveRequest(run.spec, runtimeLimits(on, settings.maxScriptBytes));
  if (!resolution.ok) throw new Error(resolution.reasons.join("; "));
  return resolution.request;
}

function anEnvelope(fields: Record<string, unknown> = {}): Envelope {
  const said = parseTerminationMessage(JSON.stringify(envelope(fields)));
  if (said.kind !== "envelope") throw new Error("not an envelope");
  return said.envelope;
}


/** A pool pod of `of` as the informer shows it. */
function aPoolPod(name: string, options: { of?: Runtime; namespace?: string; phase?: string; ready?: boolean; deleting?: boolean;
  startedMs?: number; } = {}): V1Pod {
  const pod = poolPod(options.of ?? runtime, options.namespace ?? "default", "uid-runtime", settings);
  pod.metadata = { ...pod.metadata, name, resourceVersion: "10", creationTimestamp: new Date(T0) };
  if (options.deleting) pod.metadata.deletionTimestamp = new Date(T0 + 1000);
  const ready = options.ready ?? true;
  pod.status = {
    phase: options.phase ?? (ready ? "Running" : "Pending"),
    startTime: new Date(T0),
    ...(ready ? { containerStatuses: [{ name: "runner", image: "i", imageID: "", ready: true, restartCount: 0, state: running(options.startedMs) }] } : {}),
  };
  return pod;
}

/** The apiserver: a claim carries the resourceVersion its claimer saw, and is refused when the pod changed since. */
class Server {
  readonly pods = new Map<string, V1Pod>();
  private version = 10;

  put(pod: V1Pod): V1Pod {
    this.pods.set(pod.metadata!.name!, structuredClone(pod));
    return pod;
  }

  async patchPod(_namespace: string, name: string, patch: Record<string, unknown>): Promise<V1Pod | "conflict" | "gone"> {
    const pod = this.pods.get(name);
    if (!pod) return "gone";
    const seen = (patch as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;
    if (seen !== undefined && seen !== pod.metadata?.resourceVersion) return "conflict";
    const patched = applyMergePatch(pod, patch) as V1Pod;
    patched.metadata!.resourceVersion = String(++this.version);
    this.pods.set(name, patched);
    return structuredClone(patched);
  }

  /** Someone else changed the pod after the informer saw it (another claim, say). */
  touch(name: string): void {
    this.pods.get(name)!.metadata!.resourceVersion = String(++this.version);
  }

  ownerOf(name: string): string | undefined {
    return ownerRunUid(this.pods.get(name)!);
  }
}

/** Warm runners: each attach sent on is recorded with what reached the runner's stdin, and
 * answers when told; `opened` lists every attach, sent on or not. */
class Runners implements Attacher {
  readonly attaches: Array<{ pod: string; stdin: string | undefined; answer(result: AttachResult): void }> = [];
  readonly opened: Array<{ pod: string; attach: HeldAttach; closed: boolean }> = [];
  /** Pods whose attach fails. */
  readonly refusing = new Set<string>();

  /** While set, attaches open only once it resolves. */
  gate: Promise<void> | undefined;

  async open(_namespace: string, pod: string): Promise<HeldAttach> {
    if (this.refusing.has(pod)) throw new Error(`pod ${pod} refused the attach`);
    await this.gate;
    let sent = false;
    const attaches = this.attaches;
    const entry = {
      pod, closed: false,
      attach: {
        get open() { return !sent && !entry.closed; },
        send: (frame: string | undefined) => {
          sent = true;
          return new Promise<AttachResult>((resolve) => attaches.push({ pod, stdin: frame, answer: resolve }));
        },
        close: () => { entry.closed = true; },
      },
    };
    this.opened.push(entry);
    return entry.attach;
  }

  /** What each attach to `pod` gave its runner's stdin, in order (undefined: nothing, stdin closed). */
  stdinOf(pod: string): Array<string | undefined> {
    return this.attaches.filter((a) => a.pod === pod).map((a) => a.stdin);
  }

  /** The latest attach answers. */
  async answer(result: AttachResult): Promise<void> {
    await tick();
    this.attaches[this.attaches.length - 1]!.answer(result);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function world(cached: V1Pod[] = []) {
  const server = new Server();
  for (const pod of cached) server.put(pod);
  /** The namespaces whose pods were listed, one entry a look. */
  const looks: (string | undefined)[] = [];
  const pods: ObjectCache<V1Pod> = {
    get: (name, namespace) => cached.find((p) => p.metadata?.name === name && p.metadata?.namespace === namespace),
    list: (namespace) => {
      looks.push(namespace);
      return cached.filter((p) => namespace === undefined || p.metadata?.namespace === namespace);
    },
  };
  const runners = new Runners();
  const refills: string[] = [];
  const enqueued: string[] = [];
  const warm = new WarmRuns({
    kube: server,
    pods,
    attacher: runners,
    templateOf: (r) => templateOf(poolPod(r, "", "", settings)) ?? "",
    claimed: (r, namespace) => refills.push(`${r}|${namespace}`),
    enqueue: (key) => enqueued.push(key),
    log: silentLogger(),
    graceSeconds: 30,
    now: () => T0 + 10_000,
  });
  return { server, runners, refills, enqueued, warm, looks };
}

/** Lets the attaches begun so far open. */
const tick = () => new Promise((resolve) => setImmediate(resolve));

const dropped: AttachResult = { kind: "dropped", reason: "the attach stream closed before the runner's answer" };

describe("claiming a warm pod", () => {
  it("claims a ready pod of the run's runtime: out of the pool, owned by the run, started warm", async () => {
    const { server, warm, refills } = world([aPoolPod("p1")]);
    const run = aRun("one");
    const claimed = await warm.claim(run, runtime, requestOf(run));
    assert.equal(claimed?.metadata?.name, "p1");
    const stored = server.pods.get("p1")!;
    assert.equal(stored.metadata?.labels?.[POOL_LABEL], undefined);
    assert.equal(ownerRunUid(stored), run.metadata.uid);
    assert.equal(startedWarm(stored), true);
    assert.deepEqual(refills, ["python|default"], "the pool is told to refill");
  });

  it("skips a pod whose claim conflicts, as another claim came first, and takes the next", async () => {
    const { server, warm, refills } = world([aPoolPod("p1"), aPoolPod("p2")]);
    server.touch("p1");
    const run = aRun("one");
    const claimed = await warm.claim(run, runtime, requestOf(run));
    assert.equal(claimed?.metadata?.name, "p2");
    assert.notEqual(server.ownerOf("p1"), run.metadata.uid, "the conflicting pod was not taken");
    assert.equal(server.ownerOf("p2"), run.metadata.uid);
    assert.deepEqual(refills, ["python|default"]);
  });

  it("skips a pod that is gone and takes the next", async () => {
    const { server, warm } = world([aPoolPod("p1"), aPoolPod("p2")]);
    server.pods.delete("p1");
    const run = aRun("one");
    assert.equal((await warm.claim(run, runtime, requestOf(run)))?.metadata?.name, "p2");
  });

  it("never gives one pod to two runs claiming from the same cache", async () => {
    const { server, warm } = world([aPoolPod("p1"), aPoolPod("p2")]);
    const [a, b, c] = [aRun("a"), aRun("b"), aRun("c")];
    const first = await warm.claim(a, runtime, requestOf(a));
    const second = await warm.claim(b, runtime, requestOf(b));
    const third = await warm.claim(c, runtime, requestOf(c));
    assert.deepEqual([first?.metadata?.name, second?.metadata?.name, third], ["p1", "p2", undefined]);
    assert.equal(server.ownerOf("p1"), a.metadata.uid);
    assert.equal(server.ownerOf("p2"), b.metadata.uid);
  });

  it("returns undefined, telling no pool, when no pod of the runtime is ready in the run's namespace", async () => {
    const { server, warm, refills } = world([
      aPoolPod("starting", { ready: false }),
      aPoolPod("ended", { phase: "Succeeded" }),
      aPoolPod("going", { deleting: true }),
      aPoolPod("outdated", { of: aParsedRuntime("python", { image: "localhost/scriptrun/runner:old" }) }),
      aPoolPod("elsewhere", { namespace: "team-b" }),
      aPoolPod("other-runtime", { of: other }),
    ]);
    const run = aRun("one");
    assert.equal(await warm.claim(run, runtime, requestOf(run)), undefined);
    assert.deepEqual(refills, []);
    for (const pod of server.pods.values()) assert.notEqual(ownerRunUid(pod), run.metadata.uid, pod.metadata?.name);
  });

  it("returns undefined when every ready pod was taken first", async () => {
    const { server, warm, refills } = world([aPoolPod("p1"), aPoolPod("p2")]);
    server.touch("p1");
    server.pods.delete("p2");
    const run = aRun("one");
    assert.equal(await warm.claim(run, runtime, requestOf(run)), undefined);
    assert.deepEqual(refills, []);
  });

  it("looks through no pods for a runtime that keeps no pool in the run's namespace, and claims none", async () => {
    for (const kept of [aParsedRuntime("python"), aParsedRuntime("python", { warmPool: { size: 2, namespaces: ["team-b"] } }),
      aParsedRuntime("python", { warmPool: { size: 0, namespaces: ["default"] } })]) {
      const { server, warm, refills, looks } = world([aPoolPod("p1")]);
      const run = aRun("one");
      assert.equal(await warm.claim(run, kept, requestOf(run, kept)), undefined);
      assert.deepEqual([looks, refills, server.ownerOf("p1")], [[], [], undefined]);
    }
  });
});

describe("talking to a claimed warm pod", () => {
  const key = "default/one";
  const run = aRun("one");
  const request = requestOf(run);

  async function claimedWorld() {
    const w = world([aPoolPod("p1")]);
    const pod = await w.warm.claim(run, runtime, request);
    assert.ok(pod);
    return { ...w, pod };
  }

  it("claims nothing, sends nothing and attaches no more once stopped (this process no longer leads)", async () => {
    // A reconcile still under way when leadership was lost: the new leader may be starting the run.
    const { runners, warm, pod } = await claimedWorld();
    warm.stop();
    assert.throws(() => warm.send(key, pod, request), /no longer leads/);
    assert.equal(warm.answer(key, pod, 60), undefined);
    await tick();
    assert.deepEqual(runners.stdinOf("p1"), []);
    const { warm: other, server: otherServer } = world([aPoolPod("p2")]);
    other.stop();
    await assert.rejects(other.claim(run, runtime, request), /no longer leads/);
    assert.equal(otherServer.ownerOf("p2"), undefined, "the pool pod is left to the pool");
  });

  it("sends the framed request, answers nothing while the runner works, then its envelope, and queues the run", async () => {
    const { runners, enqueued, warm, pod } = await claimedWorld();
    warm.send(key, pod, request);
    await tick();
    assert.deepEqual(runners.stdinOf("p1"), [requestFrame(request)]);
    assert.equal(warm.answer(key, pod, 60), undefined);
    assert.deepEqual(enqueued, []);
    const said = anEnvelope({ result: 42 });
    await runners.answer({ kind: "envelope", envelope: said });
    assert.deepEqual(enqueued, [key]);
    assert.deepEqual(warm.answer(key, pod, 60), { kind: "envelope", envelope: said });
    assert.deepEqual(runners.stdinOf("p1"), [requestFrame(request)], "an answered pod is not attached to again");
  });

  it("keeps what the runner said when it ran nothing", async () => {
    const { runners, warm, pod } = await claimedWorld();
    warm.send(key, pod, request);
    await runners.answer({ kind: "unrun", reason: "the request's checksum did not match" });
    assert.deepEqual(warm.answer(key, pod, 60), { kind: "unrun", reason: "the request's checksum did not match" });
  });

  it("attaches with no request to a claimed pod it never attached to, and answers what the runner then says", async () => {
    const { runners, enqueued, warm, pod } = await claimedWorld();
    assert.equal(warm.answer(key, pod, 60), undefined);
    await tick();
    assert.deepEqual(runners.stdinOf("p1"), [undefined], "nothing reached the runner's stdin");
    assert.equal(warm.answer(key, pod, 60), undefined, "still waiting");
    assert.equal(runners.attaches.length, 1, "one attach at a time");
    await runners.answer({ kind: "unrun", reason: "no request arrived" });
    assert.deepEqual(enqueued, [key]);
    assert.deepEqual(warm.answer(key, pod, 60), { kind: "unrun", reason: "no request arrived" });
  });

  it("attaches again with no request when the stream dropped, three tries in all, then answers that it dropped", async () => {
    const { runners, warm, pod } = await claimedWorld();
    warm.send(key, pod, request);
    await runners.answer(dropped);
    assert.equal(warm.answer(key, pod, 60), undefined, "retried once");
    await runners.answer(dropped);
    assert.equal(warm.answer(key, pod, 60), undefined, "retried twice");
    await runners.answer(dropped);
    assert.deepEqual(warm.answer(key, pod, 60), dropped);
    assert.deepEqual(warm.answer(key, pod, 60), dropped);
    assert.deepEqual(runners.stdinOf("p1"), [requestFrame(request), undefined, undefined], "the request is never sent twice");
  });

  it("gives a resumed attach three tries too", async () => {
    const { runners, warm, pod } = await claimedWorld();
    for (let i = 0; i < 3; i++) {
      assert.equal(warm.answer(key, pod, 60), undefined);
      await runners.answer(dropped);
    }
    assert.deepEqual(warm.answer(key, pod, 60), dropped);
    assert.deepEqual(runners.stdinOf("p1"), [undefined, undefined, undefined]);
  });

  it("answers an envelope that came on a retry", async () => {
    const { runners, warm, pod } = await claimedWorld();
    warm.send(key, pod, request);
    await runners.answer(dropped);
    assert.equal(warm.answer(key, pod, 60), undefined);
    const said = anEnvelope();
    await runners.answer({ kind: "envelope", envelope: said });
    assert.deepEqual(warm.answer(key, pod, 60), { kind: "envelope", envelope: said });
  });

  it("forgets a run: what its pod said is dropped, and an answer arriving later is ignored", async () => {
    const { runners, enqueued, warm, pod } = await claimedWorld();
    warm.send(key, pod, request);
    await runners.answer({ kind: "envelope", envelope: anEnvelope() });
    warm.forget(key);
    assert.equal(warm.answer(key, pod, 60), undefined, "nothing is kept; a new attach (with no request) asks again");
    await tick();
    assert.deepEqual(runners.stdinOf("p1"), [requestFrame(request), undefined]);
    warm.forget(key);
    const before = enqueued.length;
    await runners.answer({ kind: "envelope", envelope: anEnvelope() });
    assert.equal(enqueued.length, before, "a forgotten attach queues nothing");
    assert.equal(warm.answer(key, pod, 60), undefined);
  });

  it("gives the claim's pod while the cache still shows it in the pool, and none once the cache saw it deleted or go", async () => {
    const cached = [aPoolPod("p1")];
    const { warm } = world(cached);
    const pod = await warm.claim(run, runtime, request);
    assert.ok(pod);
    warm.send(key, pod, request);
    assert.equal(warm.claimedPod(run, 5000)?.metadata?.name, "p1", "the cache lags the claim");
    cached[0] = { ...pod, metadata: { ...pod.metadata, deletionTimestamp: new Date(T0 + 11_000) } };
    assert.equal(warm.claimedPod(run, 5000), undefined, "being deleted");
    cached.pop();
    assert.equal(warm.claimedPod(run, 5000), undefined, "gone");
  });

  it("gives no claim of an earlier run of the same name to a new run of that name", async () => {
    // kubectl delete sr one && kubectl apply: the delete and the add reach the queue as one key.
    const { warm } = world([aPoolPod("p1")]);
    const pod = await warm.claim(run, runtime, request);
    assert.ok(pod);
    warm.send(key, pod, request);
    const again = aRun("one");
    assert.notEqual(again.metadata.uid, run.metadata.uid);
    assert.equal(warm.claimedPod(again, 5000), undefined);
    assert.equal(warm.claimedPod(run, 5000)?.metadata?.name, "p1");
  });

  it("does not answer for one pod what another pod of the run said", async () => {
    const { runners, warm, pod } = await claimedWorld();
    warm.send(key, pod, request);
    await runners.answer({ kind: "envelope", envelope: anEnvelope() });
    const another = aPoolPod("p9");
    assert.equal(warm.answer(key, another, 60), undefined);
    await tick();
    assert.deepEqual(runners.stdinOf("p9"), [undefined]);
  });
});

describe("attaching ahead to warm pods", () => {
  const run = aRun("one");
  const request = requestOf(run);
  const key = "default/one";

  it("holds an attach to a ready pool pod, and sends its claim's request over it with no new attach", async () => {
    const { runners, warm } = world([aPoolPod("p1")]);
    warm.podChanged(aPoolPod("p1"));
    warm.podChanged(aPoolPod("p1"));
    await tick();
    assert.deepEqual(runners.opened.map((o) => o.pod), ["p1"], "one attach per pod, however many changes");
    assert.deepEqual(runners.attaches, [], "nothing is sent before a claim");
    const pod = await warm.claim(run, runtime, request);
    warm.send(key, pod!, request);
    await tick();
    assert.equal(runners.opened.length, 1, "the claim used the held attach");
    assert.deepEqual(runners.stdinOf("p1"), [requestFrame(request)]);
  });

  it("sends a claim's request over the attach still opening at the claim, never opening a second", async () => {
    const { runners, warm } = world([aPoolPod("p1")]);
    let open = () => {};
    runners.gate = new Promise((resolve) => {
      open = resolve;
    });
    warm.podChanged(aPoolPod("p1"));
    const pod = await warm.claim(run, runtime, request);
    warm.send(key, pod!, request);
    await tick();
    assert.deepEqual(runners.attaches, [], "nothing sent before the attach opened");
    open();
    await tick();
    assert.equal(runners.opened.length, 1, "one attach to the pod: a second would share its stdin");
    assert.equal(runners.opened[0]!.closed, false);
    assert.deepEqual(runners.stdinOf("p1"), [requestFrame(request)]);
  });

  it("holds none to a pod not yet ready, claimed, or being deleted", async () => {
    const pods = [aPoolPod("p1", { ready: false }), aPoolPod("p2", { deleting: true })];
    const { runners, warm } = world(pods);
    for (const pod of pods) warm.podChanged(pod);
    const claimed = aPoolPod("p3");
    delete claimed.metadata!.labels![POOL_LABEL];
    pods.push(claimed);
    warm.podChanged(claimed);
    await tick();
    assert.deepEqual(runners.opened, []);
  });

  it("claims a pod held open before one that is not", async () => {
    const { warm } = world([aPoolPod("p1"), aPoolPod("p2")]);
    warm.podChanged(aPoolPod("p2"));
    await tick();
    assert.equal((await warm.claim(run, runtime, request))?.metadata?.name, "p2");
  });

  it("claims, of the pods held open, the one whose runner started first (a new one may still be starting its sandbox)", async () => {
    const pods = [aPoolPod("new", { startedMs: T0 + 9000 }), aPoolPod("old", { startedMs: T0 + 1000 }), aPoolPod("unheld", { startedMs: T0 })];
    const { warm } = world(pods);
    warm.podChanged(pods[0]!);
    warm.podChanged(pods[1]!);
    await tick();
    assert.equal((await warm.claim(run, runtime, request))?.metadata?.name, "old");
    assert.equal((await warm.claim(aRun("two"), runtime, requestOf(aRun("two"))))?.metadata?.name, "new");
    assert.equal((await warm.claim(aRun("three"), runtime, requestOf(aRun("three"))))?.metadata?.name, "unheld");
  });

  it("never claims a pod whose held attach closed unsent: its runner's stdin is closed, so it would run nothing", async () => {
    const { runners, warm } = world([aPoolPod("p1"), aPoolPod("p2")]);
    warm.podChanged(aPoolPod("p1"));
    await tick();
    runners.opened[0]!.closed = true;
    assert.equal((await warm.claim(run, runtime, request))?.metadata?.name, "p2");
    assert.equal(await warm.claim(aRun("two"), runtime, requestOf(aRun("two"))), undefined);
  });

  it("lets go of the attach of a pod that ended or went, and of every one when it stops", async () => {
    const pods = [aPoolPod("p1"), aPoolPod("p2"), aPoolPod("p3")];
    const { runners, warm } = world(pods);
    for (const pod of pods) warm.podChanged(pod);
    await tick();
    pods[0]!.status!.phase = "Succeeded";
    warm.podChanged(pods[0]!);
    const [gone] = pods.splice(1, 1);
    warm.podChanged(gone!);
    assert.deepEqual(runners.opened.map((o) => [o.pod, o.closed]), [["p1", true], ["p2", true], ["p3", false]]);
    warm.stop();
    assert.equal(runners.opened[2]!.closed, true);
    warm.podChanged(pods[1]!);
    await tick();
    assert.equal(runners.opened.length, 3, "none held once stopped");
  });

  it("closes an attach that opened after its pod went", async () => {
    const pods = [aPoolPod("p1")];
    const { runners, warm } = world(pods);
    warm.podChanged(pods[0]!);
    pods.length = 0;
    warm.podChanged(aPoolPod("p1"));
    await tick();
    assert.deepEqual(runners.opened.map((o) => o.closed), [true]);
  });

  it("attaches at the claim to a pod whose attach ahead failed, and tries ahead again at its next change", async () => {
    const { runners, warm } = world([aPoolPod("p1")]);
    runners.refusing.add("p1");
    warm.podChanged(aPoolPod("p1"));
    await tick();
    assert.deepEqual(runners.opened, []);
    runners.refusing.delete("p1");
    const pod = await warm.claim(run, runtime, request);
    warm.send(key, pod!, request);
    await tick();
    assert.deepEqual(runners.stdinOf("p1"), [requestFrame(request)], "sent over a new attach");
    const again = world([aPoolPod("p2")]);
    again.runners.refusing.add("p2");
    again.warm.podChanged(aPoolPod("p2"));
    await tick();
    again.runners.refusing.delete("p2");
    again.warm.podChanged(aPoolPod("p2"));
    await tick();
    assert.deepEqual(again.runners.opened.map((o) => o.pod), ["p2"]);
  });
});

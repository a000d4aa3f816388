// The runs resource: create without waiting, read, list page by page, cancel, and follow a run's
// phases as Server-Sent Events.
import assert from "node:assert/strict";
import { ApiException } from "@kubernetes/client-node";
import { CANCEL_ANNOTATION } from "../core/runs.js";
import { aRuntime, testRuntimes } from "../core/testkit.js";
import type { ScriptRun } from "../crds/schema.js";
import { NoAuth } from "./auth.js";
import { RESOURCES_NOT_SERVED, fromCluster } from "./errors.js";
import { type TestApp, testApp } from "./testkit.js";

const SCRIPT = "def main():\n    return 1\n";

interface SseEvent {
  id?: string;
  event: string;
  data: Record<string, unknown>;
}

/** The events of a whole stream, in order (comments and the retry line left out). */
function parseEvents(text: string): SseEvent[] {
  return text.split("\n\n").filter((block) => /^(id|event): /.test(block)).map((block) => {
    const field = (name: string) => block.split("\n").find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2);
    const id = field("id");
    return { ...(id !== undefined ? { id } : {}), event: field("event")!, data: JSON.parse(field("data")!) as Record<string, unknown> };
  });
}

const frame = (stream: "stdout" | "stderr", offset: number, text: string) =>
  JSON.stringify({ scriptrunOutput: 1, stream, offset, bytes: Buffer.byteLength(text), text });

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(ok(), what);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const outputs = (events: SseEvent[]) => events.filter((e) => e.event === "output").map((e) => [e.id, e.data.stream, e.data.offset, e.data.text]);

describe("the runs resource", () => {
  let t: TestApp;
  beforeEach(() => {
    t = testApp();
  });
  afterEach(() => t.close());

  it("POST /runs answers 202 with the name and its Location at once, before the run has any status", async () => {
    t.store.finishAfterMs = 200;
    const res = await t.http.post("/runs").send({ script: SCRIPT, namespace: "team-a" });
    assert.equal(res.status, 202);
    assert.equal(res.body.namespace, "team-a");
    assert.equal(res.headers.location, `/runs/${res.body.name}?namespace=team-a`);
    assert.equal(t.store.runs.get(`team-a/${res.body.name}`)!.status, undefined);
  });

  it("POST /runs creates the run even when its script does not parse: the controller fails it", async () => {
    const res = await t.http.post("/runs").send({ script: "def main(:\n" });
    assert.equal(res.status, 202);
    assert.ok(t.store.runs.has(`default/${res.body.name}`));
  });

  it("GET /runs/:name answers the outcome, spec and status of a finished run", async () => {
    t.store.outcome = () => ({ phase: "Succeeded", result: [1, 2], stdout: "x\n", summary: "[1,2]", durationMs: 30 });
    const { body: done } = await t.http.post("/execute").send({ script: SCRIPT });
    const res = await t.http.get(`/runs/${done.name}`);
    assert.equal(res.status, 200);
    assert.deepEqual({ ...res.body, createdAt: typeof res.body.createdAt }, {
      name: done.name, namespace: "default", success: true, phase: "Succeeded", result: [1, 2], stdout: "x\n", stderr: "",
      error: null, exitCode: null, durationMs: 30, createdAt: "string", cancelRequested: false,
      spec: { script: SCRIPT, ttlSecondsAfterFinished: 3600 },
      status: { phase: "Succeeded", result: [1, 2], stdout: "x\n", summary: "[1,2]", durationMs: 30 },
    });
  });

  it("GET /runs/:name answers 404 naming what it looked for", async () => {
    const res = await t.http.get("/runs/run-nothere?namespace=team-b");
    assert.equal(res.status, 404);
    assert.deepEqual(res.body.error, { type: "not_found", message: "No run run-nothere in namespace team-b", name: "run-nothere", namespace: "team-b" });
  });

  it("GET /runs pages through every run of the namespace", async () => {
    const names = new Set<string>();
    for (let i = 0; i < 5; i++) names.add((await t.http.post("/runs").send({ script: SCRIPT })).body.name as string);
    await t.http.post("/runs").send({ script: SCRIPT, namespace: "elsewhere" });
    const seen: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const res = await t.http.get("/runs").query({ limit: 2, ...(token ? { continue: token } : {}) });
      assert.equal(res.status, 200);
      assert.ok(res.body.items.length <= 2);
      seen.push(...res.body.items.map((item: { name: string }) => item.name));
      token = res.body.continue;
      pages++;
    } while (token);
    assert.equal(pages, 3);
    assert.deepEqual(new Set(seen), names);
  });

  it("GET /runs answers 400 with the cluster's reason for a continue token it refuses, not as a refused run", async () => {
    t.store.failure = new ApiException(400, "Bad Request", '{"kind":"Status","message":"continue key is not valid: illegal base64 data at input byte 0","code":400}', {});
    const res = await t.http.get("/runs").query({ continue: "abc" });
    assert.deepEqual([res.status, res.body.error.type, res.body.error.message],
      [400, "invalid_input", "The cluster refused the request: continue key is not valid: illegal base64 data at input byte 0"]);
    t.store.failure = undefined;
  });

  it("GET /runs and POST /runs answer 503 naming the CRDs when the apiserver does not serve ScriptRuns", async () => {
    // The apiserver's answer for a resource it does not serve: plain text, no Status.
    t.store.failure = new ApiException(404, "Not Found", "404 page not found\n", {});
    for (const res of [await t.http.get("/runs"), await t.http.post("/runs").send({ script: SCRIPT })]) {
      assert.deepEqual([res.status, res.body.error.type, res.body.error.message], [503, "cluster_unavailable", RESOURCES_NOT_SERVED]);
    }
    t.store.failure = undefined;
  });

  it("keeps a 404 with no body at all (client-node's log reader for a missing pod) a 404", () => {
    const answer = fromCluster(new ApiException(404, "Not Found", undefined, {}));
    assert.deepEqual([answer?.status, answer?.type], [404, "not_found"]);
  });

  it("DELETE /runs/:name marks the run for the controller to cancel, and the run then reads as cancelled", async () => {
    t.store.outcome = () => undefined;
    const { body: created } = await t.http.post("/runs").send({ script: SCRIPT });
    const res = await t.http.delete(`/runs/${created.name}`);
    assert.equal(res.status, 202);
    assert.deepEqual(res.body, { name: created.name, namespace: "default" });
    assert.equal(t.store.runs.get(`default/${created.name}`)!.metadata.annotations?.[CANCEL_ANNOTATION], "true");
    await new Promise((r) => setTimeout(r, 100));
    const after = await t.http.get(`/runs/${created.name}`);
    assert.deepEqual([after.body.phase, after.body.error.type, after.body.cancelRequested], ["Failed", "cancelled", true]);
  });

  it("DELETE /runs/:name answers 409 for a run that already finished, and 404 for none", async () => {
    const { body: done } = await t.http.post("/execute").send({ script: SCRIPT });
    const finished = await t.http.delete(`/runs/${done.name}`);
    assert.equal(finished.status, 409);
    assert.match(finished.body.error.message, /already finished \(Succeeded\)/);
    assert.equal((await t.http.delete("/runs/run-nothere")).status, 404);
  });

  it("DELETE /runs/:name answers 409 for a run that finished between its read and the cancel, and marks nothing", async () => {
    t.store.outcome = () => undefined;
    const { body: created } = await t.http.post("/runs").send({ script: SCRIPT });
    const cancel = t.store.requestCancel.bind(t.store);
    t.store.requestCancel = async (namespace, name, resourceVersion) => {
      // The controller finishes the run after the API read it.
      t.store.setStatus(namespace, name, { phase: "Succeeded", result: 1 });
      return cancel(namespace, name, resourceVersion);
    };
    const res = await t.http.delete(`/runs/${created.name}`);
    assert.deepEqual([res.status, res.body.error?.type], [409, "conflict"]);
    assert.match(res.body.error.message, /already finished \(Succeeded\)/);
    assert.equal(t.store.runs.get(`default/${created.name}`)!.metadata.annotations?.[CANCEL_ANNOTATION], undefined);
  });

  it("DELETE /runs/:name cancels a run that changed between its read and the cancel but is still under way", async () => {
    t.store.outcome = () => undefined;
    const { body: created } = await t.http.post("/runs").send({ script: SCRIPT });
    const cancel = t.store.requestCancel.bind(t.store);
    let changes = 1;
    t.store.requestCancel = async (namespace, name, resourceVersion) => {
      if (changes-- > 0) t.store.setStatus(namespace, name, { phase: "Running", podName: "p1" });
      return cancel(namespace, name, resourceVersion);
    };
    const res = await t.http.delete(`/runs/${created.name}`);
    assert.equal(res.status, 202);
    assert.equal(t.store.runs.get(`default/${created.name}`)!.metadata.annotations?.[CANCEL_ANNOTATION], "true");
    // One that changes before every attempt is answered 409 in the end, not tried forever.
    const { body: busy } = await t.http.post("/runs").send({ script: SCRIPT });
    changes = Infinity;
    const refused = await t.http.delete(`/runs/${busy.name}`);
    assert.deepEqual([refused.status, refused.body.error?.type], [409, "conflict"]);
    assert.equal(t.store.runs.get(`default/${busy.name}`)!.metadata.annotations?.[CANCEL_ANNOTATION], undefined);
  });

  it("POST /runs takes a runtime created since the API cached the runtimes: admission reads it", async () => {
    const runtimes = testRuntimes(aRuntime("python"), aRuntime("gpu"));
    // As RuntimeCatalog: its cache (list) lacks a runtime created a moment ago, which choose() reads.
    runtimes.list = () => runtimes.runtimes.filter((r) => r.metadata.name !== "gpu");
    const lagging = testApp({ runtimes });
    try {
      const res = await lagging.http.post("/runs").send({ script: SCRIPT, runtime: "gpu" });
      assert.equal(res.status, 202);
      assert.equal(lagging.store.runs.get(`default/${res.body.name}`)!.spec.runtime, "gpu");
      const unknown = await lagging.http.post("/runs").send({ script: SCRIPT, runtime: "gpu2" });
      assert.deepEqual([unknown.status, unknown.body.error?.type], [400, "invalid_input"]);
      assert.match(unknown.body.error.message, /runtime "gpu2" does not exist; the runtimes this namespace may use are: gpu, python/);
    } finally {
      await lagging.close();
    }
  });
});

describe("GET /runs/:name/events", () => {
  let t: TestApp;
  beforeEach(() => {
    t = testApp({ env: { SCRIPTRUN_API_HEARTBEAT_SECONDS: "1" } });
  });
  afterEach(() => t.close());

  it("streams each phase of the run, then its outcome, and ends", async () => {
    t.store.finishAfterMs = 100;
    t.store.outcome = () => ({ phase: "Succeeded", result: "ok" });
    const { body: created } = await t.http.post("/runs").send({ script: SCRIPT });
    const res = await fetch(`${await t.url()}/runs/${created.name}/events`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    const events = parseEvents(await res.text());
    assert.deepEqual(events.map((e) => [e.event, e.data.phase]), [["phase", "Pending"], ["phase", "Running"], ["phase", "Succeeded"], ["finished", "Succeeded"]]);
    assert.deepEqual([events[3]!.data.name, events[3]!.data.success, events[3]!.data.result], [created.name, true, "ok"]);
    assert.equal(t.waiter.inFlight, 0);
  });

  it("sends each new place in the queue while the run waits Queued, and its Pending once it has a pod", async () => {
    // The tests move the run themselves.
    t.store.finishAfterMs = 60_000;
    const { body: created } = await t.http.post("/runs").send({ script: SCRIPT });
    const status = (s: Parameters<typeof t.store.setStatus>[2]) => t.store.setStatus(created.namespace, created.name, s);
    status({ phase: "Queued", queuePosition: 2 });
    const res = await fetch(`${await t.url()}/runs/${created.name}/events`);
    status({ phase: "Queued", queuePosition: 1 });
    status({ phase: "Queued", queuePosition: 1, summary: "Queued at position 1" });
    status({ phase: "Pending", queuePosition: undefined, podName: "p1" });
    status({ phase: "Running" });
    status({ phase: "Succeeded", result: 1 });
    const events = parseEvents(await res.text());
    assert.deepEqual(events.map((e) => [e.event, e.data.phase, e.data.queuePosition]), [
      ["phase", "Queued", 2], ["phase", "Queued", 1], ["phase", "Pending", undefined], ["phase", "Running", undefined],
      ["phase", "Succeeded", undefined], ["finished", "Succeeded", undefined]]);
  });

  it("never sends an older phase than one already sent, when its first read answers after a watch event", async () => {
    t.store.finishAfterMs = 60_000;
    const { body: created } = await t.http.post("/runs").send({ script: SCRIPT });
    const get = t.store.get.bind(t.store);
    t.store.get = async (namespace, name) => {
      const read = await get(namespace, name);
      // The watch tells a newer status while the read's answer is on its way.
      t.store.setStatus(namespace, name, { phase: "Running", podName: "p1" });
      return read;
    };
    const res = await fetch(`${await t.url()}/runs/${created.name}/events`);
    t.store.setStatus(created.namespace, created.name, { phase: "Pending" });
    t.store.setStatus(created.namespace, created.name, { phase: "Succeeded", result: 1 });
    assert.deepEqual(parseEvents(await res.text()).map((e) => [e.event, e.data.phase]), [["phase", "Running"], ["phase", "Succeeded"], ["finished", "Succeeded"]]);
  });

  it("sends heartbeats while the run is quiet", async function () {
    this.timeout(5000);
    t.store.finishAfterMs = 700;
    const { body: created } = await t.http.post("/runs").send({ script: SCRIPT });
    const res = await fetch(`${await t.url()}/runs/${created.name}/events`);
    const text = await res.text();
    assert.match(text, /^: heartbeat$/m);
    assert.deepEqual(parseEvents(text).map((e) => e.event).at(-1), "finished");
  });

  it("ends with a deleted event when the run is deleted", async () => {
    t.store.outcome = (run) => {
      t.store.remove(run.metadata.namespace!, run.metadata.name!);
      return undefined;
    };
    const { body: created } = await t.http.post("/runs").send({ script: SCRIPT });
    const res = await fetch(`${await t.url()}/runs/${created.name}/events`);
    assert.deepEqual(parseEvents(await res.text()).map((e) => e.event).at(-1), "deleted");
  });

  it("passes over the outcome and deletion of an earlier run of the same name, told late", async () => {
    t.store.finishAfterMs = 60_000;
    const { body: created } = await t.http.post("/runs").send({ script: SCRIPT });
    const current = (await t.store.get(created.namespace, created.name))!;
    const res = await fetch(`${await t.url()}/runs/${created.name}/events`);
    const earlier: ScriptRun = {
      ...current, metadata: { ...current.metadata, uid: "uid-earlier", creationTimestamp: "2000-01-01T00:00:00Z" },
      status: { phase: "Succeeded", result: "earlier" },
    };
    t.waiter.changed(earlier);
    t.waiter.deleted(earlier);
    t.store.setStatus(created.namespace, created.name, { phase: "Succeeded", result: 1 });
    const events = parseEvents(await res.text());
    assert.deepEqual(events.map((e) => e.event), ["phase", "phase", "finished"]);
    assert.equal(events[2]!.data.result, 1);
  });

  it("passes over an earlier run's outcome told while it first reads the run, and sends its own told then", async () => {
    t.store.finishAfterMs = 60_000;
    const get = t.store.get.bind(t.store);
    for (const told of ["earlier", "own"] as const) {
      const { body: created } = await t.http.post("/runs").send({ script: SCRIPT });
      t.store.get = async (namespace, name) => {
        const read = (await get(namespace, name))!;
        // The watch tells an outcome while the read's answer is on its way.
        if (told === "own") t.store.setStatus(namespace, name, { phase: "Succeeded", result: 1 });
        else t.waiter.changed({ ...read, metadata: { ...read.metadata, uid: "uid-earlier" }, status: { phase: "Succeeded", result: "earlier" } });
        return read;
      };
      const res = await fetch(`${await t.url()}/runs/${created.name}/events`);
      if (told === "earlier") t.store.setStatus(created.namespace, created.name, { phase: "Succeeded", result: 1 });
      const events = parseEvents(await res.text());
      assert.deepEqual(events.map((e) => [e.event, e.data.phase]), [["phase", "Pending"], ["phase", "Succeeded"], ["finished", "Succeeded"]], told);
      assert.equal(events[2]!.data.result, 1, told);
    }
  });

  it("ends with a deleted event when a copy made after the one read is deleted, told after or during the read", async () => {
    t.store.finishAfterMs = 60_000;
    const get = t.store.get.bind(t.store);
    const laterThan = (run: ScriptRun): ScriptRun => {
      const made = new Date(new Date(run.metadata.creationTimestamp!).getTime() + 5000).toISOString();
      return { ...run, metadata: { ...run.metadata, uid: "uid-later", creationTimestamp: made } };
    };
    for (const during of [false, true]) {
      const { body: created } = await t.http.post("/runs").send({ script: SCRIPT });
      const current = (await t.store.get(created.namespace, created.name))!;
      // Deleted and made again while the watch was away: it comes back with the later copy.
      t.store.get = async (namespace, name) => {
        const read = await get(namespace, name);
        if (during) t.waiter.changed(laterThan(current));
        return read;
      };
      const res = await fetch(`${await t.url()}/runs/${created.name}/events`);
      if (!during) t.waiter.changed(laterThan(current));
      t.waiter.deleted(laterThan(current));
      assert.deepEqual(parseEvents(await res.text()).map((e) => e.event).at(-1), "deleted", during ? "told during the read" : "told after it");
    }
  });

  it("tells a deletion told while it first read the run only if it was the copy read", async () => {
    t.store.finishAfterMs = 60_000;
    const get = t.store.get.bind(t.store);
    /** Opens the stream of a new run while the watch tells the deletion of `copy(run)`. */
    const openWhile = async (told: (run: ScriptRun) => ScriptRun) => {
      const { body: created } = await t.http.post("/runs").send({ script: SCRIPT });
      t.store.get = async (namespace, name) => {
        const read = await get(namespace, name);
        t.waiter.deleted(told(read!));
        return read;
      };
      return { created, res: await fetch(`${await t.url()}/runs/${created.name}/events`) };
    };
    const earlier = await openWhile((run) => ({ ...run, metadata: { ...run.metadata, uid: "uid-earlier" } }));
    t.store.setStatus(earlier.created.namespace, earlier.created.name, { phase: "Succeeded", result: 1 });
    assert.deepEqual(parseEvents(await earlier.res.text()).map((e) => e.event), ["phase", "phase", "finished"]);
    const read = await openWhile((run) => run);
    assert.deepEqual(parseEvents(await read.res.text()).map((e) => e.event), ["phase", "deleted"]);
  });

  it("answers a finished run's stream at once with its outcome", async () => {
    const { body: done } = await t.http.post("/execute").send({ script: SCRIPT });
    const res = await t.http.get(`/runs/${done.name}/events`).buffer(true).parse((stream, callback) => {
      let text = "";
      stream.on("data", (chunk: Buffer) => {
        text += chunk.toString();
      });
      stream.on("end", () => callback(null, text));
    });
    assert.deepEqual(parseEvents(res.body as string).map((e) => e.event), ["phase", "finished"]);
  });

  it("sends the output live from the running pod's log, then the rest from the outcome, each byte once", async () => {
    t.store.outcome = () => undefined;
    const { body: created } = await t.http.post("/runs").send({ script: SCRIPT });
    const run = () => t.store.runs.get(`${created.namespace}/${created.name}`);
    t.podLogs.write("p1", frame("stdout", 0, "tick 0\n"));
    t.podLogs.write("p1", "a line of the log that is no frame");
    const res = await fetch(`${await t.url()}/runs/${created.name}/events`);
    await until("the run to be Running", () => run()?.status?.phase === "Running");
    t.store.setStatus(created.namespace, created.name, { phase: "Running", podName: "p1" });
    await until("the pod's log to be followed", () => t.podLogs.followed.length === 1);
    t.podLogs.write("p1", frame("stdout", 7, "tick 1\n"));
    t.podLogs.write("p1", frame("stderr", 0, "warn\n"));
    t.podLogs.write("p1", frame("stdout", 7, "tick 1\n"));
    t.store.setStatus(created.namespace, created.name,
      { phase: "Succeeded", result: 1, stdout: "tick 0\ntick 1\ntick 2\n", stderr: "warn\n", exitCode: 0, durationMs: 5 });
    const events = parseEvents(await res.text());
    assert.deepEqual(t.podLogs.followed, [`${created.namespace}/p1/runner`]);
    assert.deepEqual(outputs(events), [
      ["7-0", "stdout", 0, "tick 0\n"], ["14-0", "stdout", 7, "tick 1\n"], ["14-5", "stderr", 0, "warn\n"], ["21-5", "stdout", 14, "tick 2\n"]]);
    assert.deepEqual(events.map((e) => e.event).slice(-2), ["output", "finished"]);
  });

  it("follows the running pod's log again when the first follow failed, and sends its output live", async () => {
    t.store.outcome = () => undefined;
    t.podLogs.failures = 1;
    const { body: created } = await t.http.post("/runs").send({ script: SCRIPT });
    const res = await fetch(`${await t.url()}/runs/${created.name}/events`);
    t.store.setStatus(created.namespace, created.name, { phase: "Running", podName: "p1" });
    await until("the pod's log to be followed again", () => t.podLogs.followed.length === 2);
    t.podLogs.write("p1", frame("stdout", 0, "tick 0\n"));
    // Sent live: before the run finishes, not with its outcome.
    const reader = res.body!.getReader();
    let text = "";
    while (!text.includes("event: output")) text += new TextDecoder().decode((await reader.read()).value);
    assert.match(text, /"text":"tick 0\\n"/);
    await reader.cancel();
  });

  it("closes the stream of a caller that stopped reading with more than MAX_UNREAD_BYTES unread", async function () {
    this.timeout(10_000);
    t.store.outcome = () => undefined;
    const { body: created } = await t.http.post("/runs").send({ script: SCRIPT });
    // A caller that asks and never reads: its socket's buffers fill, then the stream's own.
    const res = await fetch(`${await t.url()}/runs/${created.name}/events`);
    t.store.setStatus(created.namespace, created.name, { phase: "Running", podName: "p1" });
    await until("the pod's log to be followed", () => t.podLogs.following("p1") === 1);
    const text = "x".repeat(64 * 1024);
    for (let i = 0; i < 160; i++) {
      t.podLogs.write("p1", frame("stdout", i * text.length, text));
      await new Promise((resolve) => setImmediate(resolve));
    }
    // A heartbeat (every 1 s here) after one at which nothing was taken.
    for (let i = 0; i < 50 && t.podLogs.following("p1") > 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(t.podLogs.following("p1"), 0, "the stream was let go, its follow of the log with it");
    await res.body!.cancel().catch(() => undefined);
    // Reconnecting resumes after the last event it had.
    const again = await fetch(`${await t.url()}/runs/${created.name}/events`, { headers: { "Last-Event-ID": `${32 * text.length}-0` } });
    const reader = again.body!.getReader();
    let seen = "";
    while (!seen.includes("event: output")) seen += new TextDecoder().decode((await reader.read()).value);
    assert.match(seen, new RegExp(`"offset":${32 * text.length},`));
    await reader.cancel();
  });

  it("lets go of a caller that stopped reading a finished run's stream, and holds its slot until then", async function () {
    this.timeout(10_000);
    // The outcome is the stream's last, and all of it is written at once: more than the connection holds.
    t.store.outcome = () => ({ phase: "Succeeded", result: 1, stdout: "x".repeat(16 << 20), stderr: "", exitCode: 0, durationMs: 1 });
    const { body: done } = await t.http.post("/execute").send({ script: SCRIPT });
    const res = await fetch(`${await t.url()}/runs/${done.name}/events`);
    assert.equal(t.waiter.inFlight, 1, "the unread stream holds its slot");
    for (let i = 0; i < 50 && t.waiter.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(t.waiter.inFlight, 0, "let go after a heartbeat at which it had taken nothing");
    await res.body!.cancel().catch(() => undefined);
    // One that reads gets it all.
    const read = await fetch(`${await t.url()}/runs/${done.name}/events`);
    assert.equal(parseEvents(await read.text()).at(-1)!.event, "finished");
  });

  it("resumes after the Last-Event-ID of a dropped connection, repeating nothing", async () => {
    t.store.outcome = () => ({ phase: "Succeeded", result: 1, stdout: "abcdef", stderr: "xy", exitCode: 0, durationMs: 1 });
    const { body: done } = await t.http.post("/execute").send({ script: SCRIPT });
    const again = await fetch(`${await t.url()}/runs/${done.name}/events`, { headers: { "Last-Event-ID": "3-0" } });
    assert.deepEqual(outputs(parseEvents(await again.text())), [["6-0", "stdout", 3, "def"], ["6-2", "stderr", 0, "xy"]]);
    const fresh = await fetch(`${await t.url()}/runs/${done.name}/events`);
    assert.deepEqual(outputs(parseEvents(await fresh.text())), [["6-0", "stdout", 0, "abcdef"], ["6-2", "stderr", 0, "xy"]]);
  });

  it("answers 404 in the error shape for a run that does not exist, holding no slot", async () => {
    const res = await t.http.get("/runs/run-nothere/events");
    assert.equal(res.status, 404);
    assert.equal(res.body.error.type, "not_found");
    assert.equal(t.waiter.inFlight, 0);
  });

  it("frees its slot when the client hangs up before the stream began, while it was authorised or the run first read", async function () {
    this.timeout(5000);
    let slow: "authorised" | "read" | undefined;
    const auth = Object.assign(new NoAuth(), {
      async authorize() {
        if (slow === "authorised") await sleep(300);
      },
    });
    const slowed = testApp({ auth, env: { SCRIPTRUN_API_HEARTBEAT_SECONDS: "1" } });
    try {
      slowed.store.outcome = () => undefined;
      const { body: created } = await slowed.http.post("/runs").send({ script: SCRIPT });
      const get = slowed.store.get.bind(slowed.store);
      slowed.store.get = async (namespace, name) => {
        if (slow === "read") await sleep(300);
        return get(namespace, name);
      };
      for (const stage of ["authorised", "read"] as const) {
        slow = stage;
        const hangUp = new AbortController();
        const pending = fetch(`${await slowed.url()}/runs/${created.name}/events`, { signal: hangUp.signal }).catch(() => "hung up");
        await sleep(100);
        hangUp.abort();
        assert.equal(await pending, "hung up");
        await sleep(400);
        assert.equal(slowed.waiter.inFlight, 0, `hung up while it was ${stage}`);
      }
    } finally {
      await slowed.close();
    }
  });

  it("frees its slot when the client goes away", async () => {
    t.store.outcome = () => undefined;
    const { body: created } = await t.http.post("/runs").send({ script: SCRIPT });
    const hangUp = new AbortController();
    const res = await fetch(`${await t.url()}/runs/${created.name}/events`, { signal: hangUp.signal });
    assert.equal(res.status, 200);
    assert.equal(t.waiter.inFlight, 1);
    hangUp.abort();
    for (let i = 0; i < 100 && t.waiter.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(t.waiter.inFlight, 0);
  });
});

// A followed run's events: from the API's Server-Sent Events, and from the snapshots a watch and
// its re-reads send, which can come out of order.
import assert from "node:assert/strict";
import { API_VERSION, KIND, type ScriptRun, type ScriptRunStatus } from "../crds/schema.js";
import type { Seen } from "../core/runProgress.js";
import { type SseMessage, eventOfMessage, eventsOf } from "./events.js";
import { type SseState, sseMessages } from "./sse.js";

async function messages(chunks: string[], state: SseState = {}): Promise<SseMessage[]> {
  const all: SseMessage[] = [];
  for await (const m of sseMessages((async function* () {
    for (const c of chunks) yield new TextEncoder().encode(c);
  })(), state)) all.push(m);
  return all;
}

const run = (status?: ScriptRunStatus): ScriptRun =>
  ({ apiVersion: API_VERSION, kind: KIND, metadata: { name: "run-a", namespace: "default" }, spec: { script: "x" }, ...(status ? { status } : {}) });

describe("reading an event stream", () => {
  it("reads the API's stream, heartbeats and retry included, however it is cut into chunks", async () => {
    const stream = 'retry: 2000\n\nevent: phase\ndata: {"phase":"Pending"}\n\n: heartbeat\n\nevent: finished\ndata: {"success":true}\n\n';
    const whole = await messages([stream]);
    assert.deepEqual(whole, [{ event: "phase", data: '{"phase":"Pending"}' }, { event: "finished", data: '{"success":true}' }]);
    for (let cut = 1; cut < stream.length; cut++) {
      const state: SseState = {};
      assert.deepEqual(await messages([stream.slice(0, cut), stream.slice(cut)], state), whole, `cut at ${cut}`);
      assert.equal(state.retryMs, 2000);
    }
    assert.deepEqual(await messages([...stream]), whole);
  });

  it("takes CRLF and CR line ends, joins data lines, remembers ids and drops an unfinished message", async () => {
    const state: SseState = {};
    assert.deepEqual(await messages(["id: 7\r\nevent: output\r\ndata: a\r", "\ndata: b\r\rdata: c\n\nevent: phase\ndata: {}\n"], state), [
      { event: "output", data: "a\nb", id: "7" },
      { event: "message", data: "c", id: "7" },
    ]);
    assert.equal(state.lastEventId, "7");
  });

  it("keeps an id for Last-Event-ID only once a blank line ends its message, even one with no data", async () => {
    // The connection dropped after frame 8's id, before its blank line: a reopen must ask for 8 again.
    const state: SseState = {};
    assert.deepEqual(await messages(["id: 7\nevent: output\ndata: a\n\nid: 8\nevent: output\ndata: b\n"], state),
      [{ event: "output", data: "a", id: "7" }]);
    assert.equal(state.lastEventId, "7");
    assert.deepEqual(await messages(["data: c\n\nid: 9\n\ndata: d\n\n"], state), [
      { event: "message", data: "c", id: "7" },
      { event: "message", data: "d", id: "9" },
    ]);
    assert.equal(state.lastEventId, "9");
  });

  it("turns the API's events into run events, passing over its own and unknown ones", () => {
    assert.deepEqual(eventOfMessage({ event: "phase", data: '{"name":"run-a","namespace":"d","phase":"Queued","queuePosition":3}' }),
      { type: "phase", phase: "Queued", queuePosition: 3 });
    assert.deepEqual(eventOfMessage({ event: "phase", data: '{"name":"run-a","namespace":"d","phase":"Running"}' }), { type: "phase", phase: "Running" });
    assert.deepEqual(eventOfMessage({ event: "finished", data: '{"success":false,"phase":"Failed"}' }),
      { type: "finished", outcome: { success: false, phase: "Failed" } });
    assert.deepEqual(eventOfMessage({ event: "deleted", data: "{}" }), { type: "deleted" });
    assert.deepEqual(eventOfMessage({ id: "7-0", event: "output", data: '{"stream":"stdout","offset":0,"text":"tick 0\\n"}' }),
      { type: "output", stream: "stdout", offset: 0, text: "tick 0\n" });
    assert.equal(eventOfMessage({ event: "timeout", data: '{"message":"reconnect"}' }), undefined);
    assert.equal(eventOfMessage({ event: "something-newer", data: "{}" }), undefined);
  });
});

describe("following a run's snapshots", () => {
  const follow = (snapshots: Array<ScriptRun | undefined>) => {
    let seen: Seen = {};
    return snapshots.flatMap((s) => {
      const { events, seen: now } = eventsOf(seen, s);
      seen = now;
      return events.map((e) => (e.type === "finished" ? { type: "finished", success: e.outcome.success, stdout: e.outcome.stdout } : e));
    });
  };

  it("tells each phase and place in the queue once, then the outcome", () => {
    assert.deepEqual(follow([
      run(), run(), run({ phase: "Queued", queuePosition: 2 }), run({ phase: "Queued", queuePosition: 1 }), run({ phase: "Queued", queuePosition: 1 }),
      run({ phase: "Running" }), run({ phase: "Succeeded", stdout: "hi\n", result: 1 }),
    ]), [
      { type: "phase", phase: "Pending" },
      { type: "phase", phase: "Queued", queuePosition: 2 },
      { type: "phase", phase: "Queued", queuePosition: 1 },
      { type: "phase", phase: "Running" },
      { type: "phase", phase: "Succeeded" },
      { type: "finished", success: true, stdout: "hi\n" },
    ]);
  });

  it("never goes back to an earlier phase when a stale snapshot comes late", () => {
    assert.deepEqual(follow([run({ phase: "Running" }), run({ phase: "Pending" }), run({ phase: "Failed", error: { type: "timeout", message: "t" } })]), [
      { type: "phase", phase: "Running" },
      { type: "phase", phase: "Failed" },
      { type: "finished", success: false, stdout: "" },
    ]);
  });

  it("tells a run that went away", () => {
    assert.deepEqual(follow([run({ phase: "Running" }), undefined]), [{ type: "phase", phase: "Running" }, { type: "deleted" }]);
  });
});

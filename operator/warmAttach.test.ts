import assert from "node:assert/strict";
import { FRAME_MARK } from "../core/liveOutput.js";
import { type AttachResult, answerReader } from "./warmAttach.js";

/** Writes `chunks` to a reader, then ends it; what it settled on, which must be one thing. */
async function read(chunks: (string | Buffer)[], maxLineBytes?: number): Promise<AttachResult> {
  const results: AttachResult[] = [];
  const reader = answerReader((result) => results.push(result), maxLineBytes);
  for (const chunk of chunks) await new Promise<void>((done) => reader.write(chunk, () => done()));
  await new Promise<void>((done) => reader.end(done));
  assert.equal(results.length, 1, JSON.stringify(results));
  return results[0]!;
}

const frame = (offset: number, text: string) =>
  `${JSON.stringify({ [FRAME_MARK]: 1, stream: "stdout", offset, bytes: text.length, text })}\n`;
const envelope = JSON.stringify({ success: true, result: "ok", stdout: "tick\n".repeat(4000), stderr: "" });

describe("the warm runner's answer on its attach stream", () => {
  it("passes over the frames of live output ahead of it, a frame's line and the envelope cut anywhere", async () => {
    const stream = `${frame(0, "tick\n")}${frame(5, "tick\n".repeat(1000))}${envelope}\n`;
    for (const cut of [1, 7, 16 * 1024, stream.length - envelope.length - 1, stream.length - 3]) {
      const result = await read([stream.slice(0, cut), stream.slice(cut)]);
      assert.equal(result.kind, "envelope", `cut at ${cut}`);
      assert.equal(result.kind === "envelope" && result.envelope.stdout, "tick\n".repeat(4000));
    }
  });

  it("reads frames and an envelope that arrive a byte at a time, a character's bytes apart", async () => {
    const bytes = Buffer.from(`${frame(0, "☃ snow\n")}${JSON.stringify({ success: true, result: "☃", stdout: "☃ snow\n" })}\n`);
    const result = await read([...bytes].map((b) => Buffer.from([b])));
    assert.equal(result.kind === "envelope" && result.envelope.result, "☃");
  });

  it("answers with the envelope when more follows it in the same chunk", async () => {
    const result = await read([`${frame(0, "a")}${envelope}\n{"not": "read"}\ntrailing`]);
    assert.equal(result.kind, "envelope");
  });

  it("holds one line at a time: frames that add up to more than a line may be are read past", async () => {
    const frames = Array.from({ length: 20 }, (_, i) => frame(i * 100, "x".repeat(100)));
    assert.ok(frames.join("").length > 1000);
    // Each frame cut in two, so that every line arrives in pieces.
    const halves = frames.flatMap((f) => [f.slice(0, 70), f.slice(70)]);
    const result = await read([...halves, `${JSON.stringify({ success: true, result: 1 })}\n`], 1000);
    assert.equal(result.kind === "envelope" && result.envelope.result, 1);
  });

  it("drops a line longer than a line may be, and reads no further", async () => {
    const result = await read(["x".repeat(600), "x".repeat(600), `\n${envelope}\n`], 1000);
    assert.deepEqual(result, { kind: "dropped", reason: "a line from the runner passed 1000 bytes" });
  });

  it("takes a warm runner's unrun answer as the first line that is not a frame", async () => {
    const result = await read([frame(0, "x"), `${JSON.stringify({ unrun: true, reason: "stopped" })}\n`, "more\n"]);
    assert.deepEqual(result, { kind: "unrun", reason: "stopped" });
  });

  it("drops a stream that ends with frames only, leaving the outcome to the pod", async () => {
    const result = await read([frame(0, "a"), frame(1, "b")]);
    assert.deepEqual(result, { kind: "dropped", reason: "the attach stream ended before the runner's answer" });
  });

  it("drops a line that is neither a frame nor an answer", async () => {
    const result = await read(["Traceback (most recent call last):\n"]);
    assert.equal(result.kind, "dropped");
  });
});

import assert from "node:assert/strict";
import { FRAME_MARK } from "../core/liveOutput.js";
import { type AttachResult, answerReader } from "./warmAttach.js";

/** Writes `chunks` to a reader, then ends it; what it settled on first. */
async function read(chunks: (string | Buffer)[]): Promise<AttachResult> {
  const results: AttachResult[] = [];
  const reader = answerReader((result) => results.push(result));
  for (const chunk of chunks) await new Promise<void>((done) => reader.write(chunk, () => done()));
  await new Promise<void>((done) => reader.end(done));
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

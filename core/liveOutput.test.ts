import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ENVELOPE_BYTES, LIVE_LOG_BYTES, parseOutputFrame } from "./liveOutput.js";

/** A constant of the runner harness (images/runner/NAME.py), a product of numbers and of the
 * file's constants above it. */
function harnessConstant(file: string, name: string): number {
  const constants = new Map<string, number>();
  for (const [, key, expression] of readFileSync(`images/runner/${file}.py`, "utf8").matchAll(/^([A-Z_]+) = ([0-9A-Z_ *]+?)\s*(?:#.*)?$/gm)) {
    constants.set(key!, expression!.split("*").reduce((product, factor) => product * (constants.get(factor.trim()) ?? Number(factor)), 1));
  }
  const value = constants.get(name);
  assert.ok(value !== undefined && Number.isFinite(value), `${name} in ${file}.py`);
  return value;
}

describe("live output's frames", () => {
  it("are read from the lines the harness frames, and from nothing else", () => {
    assert.deepEqual(parseOutputFrame('{"scriptrunOutput": 1, "stream": "stdout", "offset": 6, "bytes": 7, "text": "second\\n"}'),
      { stream: "stdout", offset: 6, bytes: 7, text: "second\n" });
    assert.deepEqual(parseOutputFrame('{"scriptrunOutput": 1, "stream": "stderr", "offset": 0, "bytes": 0, "text": "", "stopped": "live_limit"}'),
      { stream: "stderr", offset: 0, bytes: 0, text: "", stopped: "live_limit" });
    for (const line of [
      '{"success": true, "result": 1}',
      '{"scriptrunOutput": 1, "stream": "other", "offset": 0, "bytes": 1, "text": "x"}',
      '{"scriptrunOutput": 1, "stream": "stdout", "offset": -1, "bytes": 1, "text": "x"}',
      '{"scriptrunOutput": 1, "stream": "stdout"',
      'print("{\\"scriptrunOutput\\": 1}")',
    ]) assert.equal(parseOutputFrame(line), undefined, line);
  });

  it("fit beside the longest envelope in what the controller reads of a runner's log, as the harness bounds them", () => {
    // Each stream's frames stop at FRAMED_BYTES (live.py); the envelope is at most ENVELOPE_BYTES (runner.py).
    assert.ok(2 * harnessConstant("live", "FRAMED_BYTES") <= LIVE_LOG_BYTES);
    assert.equal(harnessConstant("runner", "ENVELOPE_BYTES"), ENVELOPE_BYTES);
  });
});

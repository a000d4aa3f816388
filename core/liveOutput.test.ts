import assert from "node:assert/strict";
import { parseOutputFrame } from "./liveOutput.js";

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
});

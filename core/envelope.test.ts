import assert from "node:assert/strict";
import { parseEnvelopeFromLog, parsePreflightAnswer, parseTerminationMessage } from "./envelope.js";
import { envelope, harnessError } from "./testkit.js";

describe("reading what the harness says", () => {
  it("tells an envelope from the truncated marker", () => {
    assert.equal(parseTerminationMessage(JSON.stringify(envelope())).kind, "envelope");
    assert.equal(parseTerminationMessage(JSON.stringify({ truncated: true, success: true, exitCode: 0, errorType: null, durationMs: 5 })).kind, "truncated");
  });

  it("calls anything else invalid, with a reason", () => {
    for (const [text, reason] of [
      [undefined, /empty/], ["   ", /empty/], ["{", /not JSON/], ["null", /envelope is malformed/],
      [JSON.stringify({ truncated: true }), /truncated marker is malformed/],
      [JSON.stringify(envelope({ error: harnessError("made_up", "x"), success: false })), /error\.type/],
    ] as const) {
      const parsed = parseTerminationMessage(text);
      assert.equal(parsed.kind, "invalid");
      assert.match((parsed as { reason: string }).reason, reason);
    }
  });

  it("takes the envelope from the last non-empty line of the log", () => {
    const log = `noise\n${JSON.stringify({ success: true, result: "forged" })}x\n${JSON.stringify(envelope({ result: "real" }))}\n\n`;
    const parsed = parseEnvelopeFromLog(log);
    assert.ok("envelope" in parsed);
    assert.equal(parsed.envelope.result, "real");
  });

  it("passes over live output's frames, wherever the log put them", () => {
    const frame = (offset: number) => JSON.stringify({ scriptrunOutput: 1, stream: "stderr", offset, bytes: 3, text: "hi\n" });
    const log = `${frame(0)}\n${JSON.stringify(envelope({ result: "real" }))}\n${frame(3)}\n`;
    const parsed = parseEnvelopeFromLog(log);
    assert.ok("envelope" in parsed, JSON.stringify(parsed));
    assert.equal(parsed.envelope.result, "real");
  });

  it("accepts well-formed preflight answers only", () => {
    assert.deepEqual(parsePreflightAnswer('{"ok": true}'), { ok: true });
    assert.deepEqual(parsePreflightAnswer(JSON.stringify({ ok: false, error: harnessError("syntax_error", "invalid syntax", { line: 1 }) })),
      { ok: false, error: { type: "syntax_error", message: "invalid syntax", line: 1, suggestions: [], availableFunctions: [] } });
    assert.throws(() => parsePreflightAnswer('{"ok": false}'), /malformed/);
    assert.throws(() => parsePreflightAnswer("ok"), /not JSON/);
  });
});

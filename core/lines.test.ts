import assert from "node:assert/strict";
import { LineSplitter } from "./lines.js";

function split(chunks: (string | Buffer)[]): { lines: string[]; splitter: LineSplitter } {
  const lines: string[] = [];
  const splitter = new LineSplitter((bytes) => lines.push(bytes.toString("utf8")));
  for (const chunk of chunks) splitter.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return { lines, splitter };
}

describe("LineSplitter", () => {
  it("hands on each line whole, wherever the chunks cut it, and holds the unended rest", () => {
    const { lines, splitter } = split(["a\nb", "c", "d\n\ne\nf", "gh"]);
    assert.deepEqual(lines, ["a", "bcd", "", "e"]);
    assert.equal(splitter.pending, 3);
  });

  it("joins a character cut between chunks before the line is read", () => {
    const bytes = Buffer.from("é€\n");
    const { lines, splitter } = split([...bytes].map((b) => Buffer.from([b])));
    assert.deepEqual(lines, ["é€"]);
    assert.equal(splitter.pending, 0);
  });

  it("hands on nothing more once stopped, even from the chunk it stopped in", () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((bytes) => {
      lines.push(bytes.toString());
      if (lines.length === 2) splitter.stop();
    });
    splitter.push(Buffer.from("a\nb\nc\nd"));
    splitter.push(Buffer.from("e\n"));
    assert.deepEqual(lines, ["a", "b"]);
    assert.equal(splitter.pending, 0);
  });
});

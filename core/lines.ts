// Lines of a byte stream, each handed on whole as bytes: a character cut between two chunks is
// whole again in its line, and a line within one chunk is a view of it, not a copy.

export class LineSplitter {
  private pieces: Buffer[] = [];
  private held = 0;
  private stopped = false;

  /** `line`: each line, without its "\n". */
  constructor(private readonly line: (bytes: Buffer) => void) {}

  /** Bytes held of a line not yet ended. */
  get pending(): number {
    return this.held;
  }

  /** Hands on no more lines, and lets go of what it holds. */
  stop(): void {
    this.stopped = true;
    this.pieces = [];
    this.held = 0;
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (let end = chunk.indexOf(0x0a); end >= 0 && !this.stopped; end = chunk.indexOf(0x0a, start)) {
      const tail = chunk.subarray(start, end);
      start = end + 1;
      if (this.pieces.length === 0) this.line(tail);
      else {
        const whole = Buffer.concat([...this.pieces, tail]);
        this.pieces = [];
        this.held = 0;
        this.line(whole);
      }
    }
    if (this.stopped || start === chunk.length) return;
    this.pieces.push(chunk.subarray(start));
    this.held += chunk.length - start;
  }
}

// What `run` shows while it waits, on standard error (standard output carries only the script's
// output and result): on a terminal one line rewritten in place, with the phase, the place in the
// queue and the time since the run was submitted, ticking; elsewhere a plain line per change.
import type { Phase } from "../crds/schema.js";

/** The one status line: `run-abc  Queued (position 2 in the queue)  3.4s`. */
export function statusLine(name: string, phase: Phase, queuePosition: number | undefined, elapsedMs: number): string {
  const place = queuePosition !== undefined ? ` (position ${queuePosition} in the queue)` : "";
  return `${name}  ${phase}${place}  ${(elapsedMs / 1000).toFixed(1)}s`;
}

export interface StatusStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

const TICK_MS = 100;
const CLEAR_LINE = "\r\x1b[K";

export class Progress {
  private phase: Phase | undefined;
  private queuePosition: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Output left a line unfinished: drawing the status line would erase it. */
  private held = false;

  constructor(private readonly out: StatusStream, private readonly name: string,
    private readonly since: number, private readonly now: () => number = Date.now) {}

  update(phase: Phase, queuePosition: number | undefined): void {
    if (phase === this.phase && queuePosition === this.queuePosition) return;
    this.phase = phase;
    this.queuePosition = queuePosition;
    if (!this.out.isTTY) {
      this.out.write(`${this.line()}\n`);
      return;
    }
    this.render();
    this.timer ??= setInterval(() => this.render(), TICK_MS);
  }

  /** Stops ticking and takes the line away, so what follows starts on a clean line. */
  done(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.out.isTTY && this.phase !== undefined && !this.held) this.out.write(CLEAR_LINE);
    // Nothing is drawn after: output that follows is written as it is.
    this.phase = undefined;
  }

  /** A line of its own above the status line (or in place of it, elsewhere than on a terminal). */
  note(text: string): void {
    this.around(() => this.out.write(`${this.held ? "\n" : ""}${text}\n`), true);
  }

  /** Runs `write` (the script's output) with the status line taken away first and drawn again
   * after, unless the output left its line unfinished (`endsLine` false). */
  around(write: () => void, endsLine: boolean): void {
    if (!this.out.isTTY || this.phase === undefined) {
      write();
      return;
    }
    if (!this.held) this.out.write(CLEAR_LINE);
    write();
    this.held = !endsLine;
    this.render();
  }

  private render(): void {
    if (!this.held) this.out.write(`${CLEAR_LINE}${this.line()}`);
  }

  private line(): string {
    return statusLine(this.name, this.phase!, this.queuePosition, this.now() - this.since);
  }
}

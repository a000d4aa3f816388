// Talking to a warm pod: attach to its runner through the apiserver (pods/attach, client-node's
// Attach over the v5 WebSocket protocol, which can close stdin alone) and hold the stream open; then
// send the framed request (or nothing, which makes a runner still waiting exit without running),
// close stdin, and read the runner's answer: past its frames of live output, the line that is its
// envelope, or why it ran nothing.
// Whatever goes wrong on the way is "dropped": the pod's termination message and log still carry
// the outcome. The stream can be opened long before the request: the pod's first attach is the one
// its stdin belongs to (stdinOnce), and the runner reads nothing until a whole frame arrives.
import { PassThrough, Writable } from "node:stream";
import { Attach, type KubeConfig } from "@kubernetes/client-node";
import { type Envelope, parseTerminationMessage } from "../core/envelope.js";
import { LineSplitter } from "../core/lines.js";
import { FRAME_START } from "../core/liveOutput.js";
import { within } from "../core/time.js";
import { RUNNER_CONTAINER } from "./names.js";

export type AttachResult =
  | { kind: "envelope"; envelope: Envelope }
  | { kind: "unrun"; reason: string }
  | { kind: "dropped"; reason: string };

/** The most a line from the runner may be before the stream is given up on (the log has it all). */
const MAX_LINE_BYTES = 16 * 1024 * 1024;

/** An attach to a runner, its stdin still open. */
export interface HeldAttach {
  /** False once the stream closed (a send then answers why) or was sent on. */
  readonly open: boolean;
  /** Sends `frame` (none: just close stdin) and reads the runner's answer within `timeoutMs`; once. */
  send(frame: string | undefined, timeoutMs: number): Promise<AttachResult>;
  /** Closes the stream unsent: a runner still waiting exits without running. */
  close(): void;
}

export interface Attacher {
  /** Attaches to the pod's runner; rejects when that fails or takes over `timeoutMs`. */
  open(namespace: string, pod: string, timeoutMs: number): Promise<HeldAttach>;
}

/** Attaches, sends and reads, as one step: what a pod that was not attached to ahead needs. */
export async function attachAndSend(attacher: Attacher, namespace: string, pod: string, frame: string | undefined,
  timeoutMs: number): Promise<AttachResult> {
  let held: HeldAttach;
  try {
    held = await attacher.open(namespace, pod, timeoutMs);
  } catch (err) {
    return { kind: "dropped", reason: `could not attach: ${String((err as Error).message ?? err)}` };
  }
  return held.send(frame, timeoutMs);
}

export class PodAttacher implements Attacher {
  constructor(private readonly kc: KubeConfig) {}

  async open(namespace: string, pod: string, timeoutMs: number): Promise<HeldAttach> {
    const stream = new Stream();
    const connecting = new Attach(this.kc).attach(namespace, pod, RUNNER_CONTAINER, stream.stdout, null, stream.stdin, false);
    try {
      stream.attached(await within(connecting, timeoutMs, "attach"));
      return stream;
    } catch (err) {
      // The handshake may still finish after the timeout: a socket that opens after is closed.
      connecting.then((socket) => socket.close(), () => undefined);
      throw err;
    }
  }
}

interface Socket {
  close(): void;
  on(event: "close", listener: () => void): unknown;
  on(event: "error", listener: (err: unknown) => void): unknown;
}

/** One attach: the runner's stdout read up to its answer, its stdin written once. */
class Stream implements HeldAttach {
  readonly stdin = new PassThrough();
  readonly stdout: Writable;
  private readonly answered: Promise<AttachResult>;
  private settle: (result: AttachResult) => void = () => {};
  private settled = false;
  private sent = false;
  private socket: Socket | undefined;

  constructor() {
    this.answered = new Promise<AttachResult>((resolve) => {
      this.settle = (result) => {
        this.settled = true;
        resolve(result);
      };
    });
    this.stdout = answerReader((result) => this.settle(result));
    void this.answered.then(() => this.socket?.close());
  }

  get open(): boolean {
    return !this.settled && !this.sent;
  }

  attached(socket: Socket): void {
    this.socket = socket;
    socket.on("close", () => this.settle({ kind: "dropped", reason: "the attach stream closed before the runner's answer" }));
    socket.on("error", (err: unknown) => this.settle({ kind: "dropped", reason: `the attach stream failed: ${String(err)}` }));
    if (this.settled) socket.close();
  }

  async send(frame: string | undefined, timeoutMs: number): Promise<AttachResult> {
    if (this.sent) throw new Error("An attach is sent on once");
    this.sent = true;
    const timer = setTimeout(() => this.settle({ kind: "dropped", reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
    this.stdin.end(frame ?? "");
    try {
      return await this.answered;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.sent = true;
    this.stdin.end();
    this.settle({ kind: "dropped", reason: "the attach was closed unsent" });
  }
}

/** The runner's stdout, read up to its answer: the first line that is not a frame of live output
 * (those come first, on the same stream, so that the log keeps them apart from the envelope). */
export function answerReader(settle: (result: AttachResult) => void, maxLineBytes = MAX_LINE_BYTES): Writable {
  const frameStart = Buffer.from(FRAME_START);
  let answered = false;
  const lines = new LineSplitter((bytes) => {
    if (bytes.subarray(0, frameStart.length).equals(frameStart)) return;
    answered = true;
    lines.stop();
    settle(lineResult(bytes.toString("utf8")));
  });
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (!answered) lines.push(chunk);
      if (!answered && lines.pending > maxLineBytes) {
        answered = true;
        lines.stop();
        settle({ kind: "dropped", reason: `a line from the runner passed ${maxLineBytes} bytes` });
      }
      done();
    },
    final(done) {
      if (!answered) settle({ kind: "dropped", reason: "the attach stream ended before the runner's answer" });
      done();
    },
  });
}

function lineResult(line: string): AttachResult {
  const said = parseTerminationMessage(line);
  if (said.kind === "envelope") return { kind: "envelope", envelope: said.envelope };
  if (said.kind === "unrun") return { kind: "unrun", reason: said.reason };
  // The envelope is one line here; a cut one is for the log to tell.
  return { kind: "dropped", reason: said.kind === "invalid" ? said.reason : "the runner's line was a truncation marker" };
}

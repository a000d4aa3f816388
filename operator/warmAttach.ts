// Talking to a claimed warm pod: attach to its runner through the apiserver (pods/attach,
// client-node's Attach over the v5 WebSocket protocol, which can close stdin alone), send the
// framed request (or nothing, which makes a runner still waiting exit without running), close
// stdin, and read the one line the runner prints: its envelope, or why it ran nothing. Whatever
// goes wrong on the way is "dropped": the pod's termination message and log still carry the outcome.
import { PassThrough, Writable } from "node:stream";
import { Attach, type KubeConfig } from "@kubernetes/client-node";
import { type Envelope, parseTerminationMessage } from "../core/envelope.js";
import { RUNNER_CONTAINER } from "./names.js";

export type AttachResult =
  | { kind: "envelope"; envelope: Envelope }
  | { kind: "unrun"; reason: string }
  | { kind: "dropped"; reason: string };

/** The most the runner's line may be before the stream is given up on (the log has it all). */
const MAX_LINE_BYTES = 16 * 1024 * 1024;

export interface Attacher {
  /** Sends `frame` (none: just close stdin) to the pod's runner and reads its answer within `timeoutMs`. */
  run(namespace: string, pod: string, frame: string | undefined, timeoutMs: number): Promise<AttachResult>;
}

export class PodAttacher implements Attacher {
  constructor(private readonly kc: KubeConfig) {}

  async run(namespace: string, pod: string, frame: string | undefined, timeoutMs: number): Promise<AttachResult> {
    const pieces: Buffer[] = [];
    let size = 0;
    let settle: (result: AttachResult) => void = () => {};
    const answered = new Promise<AttachResult>((resolve) => {
      settle = resolve;
    });
    const stdout = new Writable({
      write(chunk: Buffer, _encoding, done) {
        const end = chunk.indexOf(0x0a);
        pieces.push(end >= 0 ? chunk.subarray(0, end) : chunk);
        size += chunk.length;
        if (end >= 0) settle(lineResult(Buffer.concat(pieces).toString("utf8")));
        else if (size > MAX_LINE_BYTES) settle({ kind: "dropped", reason: `the runner's line passed ${MAX_LINE_BYTES} bytes` });
        done();
      },
      final(done) {
        settle({ kind: "dropped", reason: "the attach stream ended before the runner's answer" });
        done();
      },
    });
    const stdin = new PassThrough();
    const timer = setTimeout(() => settle({ kind: "dropped", reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
    const connecting = new Attach(this.kc).attach(namespace, pod, RUNNER_CONTAINER, stdout, null, stdin, false);
    // The handshake may hang too: the timeout bounds it, and a socket that opens after is closed.
    connecting.then((socket) => answered.then(() => socket.close()), () => undefined);
    try {
      const socket = await Promise.race([connecting, answered.then(() => undefined)]);
      if (!socket) return await answered;
      socket.on("close", () => settle({ kind: "dropped", reason: "the attach stream closed before the runner's answer" }));
      socket.on("error", (err: unknown) => settle({ kind: "dropped", reason: `the attach stream failed: ${String(err)}` }));
      stdin.end(frame ?? "");
      return await answered;
    } catch (err) {
      return { kind: "dropped", reason: `could not attach: ${String((err as Error).message ?? err)}` };
    } finally {
      clearTimeout(timer);
    }
  }
}

function lineResult(line: string): AttachResult {
  const said = parseTerminationMessage(line);
  if (said.kind === "envelope") return { kind: "envelope", envelope: said.envelope };
  if (said.kind === "unrun") return { kind: "unrun", reason: said.reason };
  // The envelope is one line here; a cut one is for the log to tell.
  return { kind: "dropped", reason: said.kind === "invalid" ? said.reason : "the runner's line was a truncation marker" };
}

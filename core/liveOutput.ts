// Live output: the frames runner.py --live-output writes on its stdout as the script prints
// (images/runner/live.py), one JSON line each, all before the envelope. The API follows a running
// pod's log and sends each frame to the run's watchers; the controller, reading the log (or a warm
// pod's attach stream) for the envelope, passes over them. They share the envelope's stream because
// the container log keeps order only within a stream: it cuts a long line into records of 16 KiB
// (containerd), and a record of the other stream, written earlier, can still land among them.
import { z } from "zod";

/** The runner pod's one container, whose log carries the frames. */
export const RUNNER_CONTAINER = "runner";

/** The key that marks a line of the log as a frame (the script's text is inside a JSON string,
 * so no line it prints can be one). */
export const FRAME_MARK = "scriptrunOutput";

/** How every frame's line begins, and no envelope's. */
export const FRAME_START = `{"${FRAME_MARK}"`;

/** Bytes the frames may add to a runner's log: at most 256 KiB of each stream is framed, and JSON
 * may spell a byte in up to six. */
export const LIVE_LOG_BYTES = 2 * 256 * 1024 * 6 + 64 * 1024;

/** The longest envelope line a runner writes (runner.py ENVELOPE_BYTES): a log read shorter than
 * that could end inside one, and the run with it. */
export const ENVELOPE_BYTES = 4 * 1024 * 1024;

const FrameSchema = z.object({
  [FRAME_MARK]: z.literal(1),
  stream: z.enum(["stdout", "stderr"]),
  offset: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  text: z.string(),
  stopped: z.enum(["output_limit", "live_limit"]).optional(),
});

export interface OutputFrame {
  stream: "stdout" | "stderr";
  /** Where `text` starts in its stream's text as the outcome has it, in UTF-8 bytes (live.py). */
  offset: number;
  /** `text`'s own UTF-8 bytes. */
  bytes: number;
  text: string;
  /** The last frame of its stream: its output cap was reached, or what is framed live. */
  stopped?: "output_limit" | "live_limit";
}

/** The frame a log line is, or undefined when it is none. */
export function parseOutputFrame(line: string): OutputFrame | undefined {
  if (!line.startsWith(FRAME_START)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  const frame = FrameSchema.safeParse(value);
  if (!frame.success) return undefined;
  const { stream, offset, bytes, text, stopped } = frame.data;
  return { stream, offset, bytes, text, ...(stopped ? { stopped } : {}) };
}

/** What the script printed, to each stream, as far as a runner's log has framed it. */
export interface Printed {
  stdout: string;
  stderr: string;
  /** Set when a stream's frames stopped before its end: at its output cap, or past what is framed
   * live (256 KiB). */
  stdoutTruncated?: boolean;
  stderrTruncated?: boolean;
}

/** The output framed in `log` (a runner pod's log, or its start), for a run that ends with no
 * envelope: one cancelled while its script ran. Lines that are not frames, and a last line cut by
 * the read, are passed over. */
export function printedIn(log: string): Printed {
  const printed: Printed = { stdout: "", stderr: "" };
  for (const line of log.split("\n")) {
    const frame = parseOutputFrame(line);
    if (!frame) continue;
    printed[frame.stream] += frame.text;
    if (frame.stopped) printed[frame.stream === "stdout" ? "stdoutTruncated" : "stderrTruncated"] = true;
  }
  return printed;
}

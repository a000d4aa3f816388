// GET /runs/:name/events: a Server-Sent Events stream of one run, fed by the shared watch.
// Events: `phase` ({name, namespace, phase, queuePosition?}) on each change of the phase or of the
// place in the queue, never going back to an older one (core/runProgress.ts); `output`
// ({stream, offset, text, stopped?}) as the script prints, from the running pod's log, then the
// rest of its output from the outcome, each with an `id:` that a reconnect's Last-Event-ID resumes
// after (no output lost or repeated); then `finished` (the outcome, as /execute answers it) and the
// stream ends; `deleted` when the run goes away
// first; `timeout` when the stream has been open for the longest wait the API allows (reconnect
// to go on). A comment line every heartbeat keeps proxies from closing an idle stream.
import { PassThrough } from "node:stream";
import type { Context } from "koa";
import { type OutputFrame, RUNNER_CONTAINER, parseOutputFrame } from "../core/liveOutput.js";
import { type Seen, progressOf } from "../core/runProgress.js";
import { type ScriptRun, isFinished } from "../crds/schema.js";
import { ApiError, notFound } from "./errors.js";
import { OwnCopy } from "./ownCopy.js";
import type { Services } from "./services.js";
import { outcomeOf } from "./views.js";
import type { News } from "./waiter.js";

/** Milliseconds a client should wait before reconnecting (the SSE `retry` field). */
const RECONNECT_MS = 2000;
/** How often, and how far apart, the runner's log is asked for when following it fails. */
const FOLLOW_ATTEMPTS = 5;
const FOLLOW_RETRY_MS = 1000;
/** Bytes a stream may hold for a caller that has stopped reading: when it has taken none of them
 * from one heartbeat to the next, its connection is closed, and a reconnect with its Last-Event-ID
 * resumes where it stopped. A burst (a long log read at once) may pass it while the caller reads;
 * a runner's log frames some 3 MiB at most, and a thousand streams may be open. Once the stream
 * has ended (the run finished: its outcome is the last of it), any bytes left untaken so long. */
export const MAX_UNREAD_BYTES = 1024 * 1024;

export async function streamRunEvents(ctx: Context, deps: Services, namespace: string, name: string): Promise<void> {
  const release = deps.waiter.reserve();
  const stream = new PassThrough();
  let seen: Seen = {};
  let ended = false;
  const timers: NodeJS.Timeout[] = [];
  // Bytes of each stream the caller has had, the id of the last output event; and the log followed.
  const had = resumeFrom(ctx.get("last-event-id"));
  let following: AbortController | undefined;

  const output = (frame: OutputFrame) => {
    const { stream: name, offset, bytes, text, stopped } = frame;
    if (offset + bytes < had[name] || (bytes > 0 && offset + bytes === had[name])) return;
    had[name] = Math.max(had[name], offset + bytes);
    write(`id: ${had.stdout}-${had.stderr}\nevent: output\ndata: ${JSON.stringify({ stream: name, offset, text, ...(stopped ? { stopped } : {}) })}\n\n`);
  };
  const follow = (pod: string, attempt = 1) => {
    const { signal } = following = new AbortController();
    const line = (text: string) => {
      const frame = parseOutputFrame(text);
      if (frame) output(frame);
    };
    deps.podLogs.follow(namespace, pod, RUNNER_CONTAINER, line, signal).catch((err: unknown) => {
      // The outcome still brings the whole output, but live the caller would see none of it: a
      // follow that failed (asked as the container was just starting, say) is tried again. The
      // offsets drop what the caller had.
      deps.log.debug({ run: `${namespace}/${name}`, pod, attempt, err: String(err) }, "Could not follow the runner's log");
      if (attempt >= FOLLOW_ATTEMPTS || ended || signal.aborted) return;
      timers.push(setTimeout(() => {
        if (!ended && !signal.aborted) follow(pod, attempt + 1);
      }, FOLLOW_RETRY_MS));
    });
  };
  /** What the outcome has that the caller has not had yet. */
  const rest = (run: ScriptRun) => {
    for (const name of ["stdout", "stderr"] as const) {
      const all = Buffer.from(run.status?.[name] ?? "");
      if (all.length > had[name]) output({ stream: name, offset: had[name], bytes: all.length - had[name], text: all.subarray(had[name]).toString() });
    }
  };

  const send = (event: string, data: unknown) => write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  // What the caller has taken of what was written: what its connection handed to the system.
  let written = 0;
  let takenAtBeat = 0;
  const unread = () => stream.writableLength + stream.readableLength + ctx.res.writableLength;
  const write = (text: string) => {
    if (ended) return;
    written += Buffer.byteLength(text);
    stream.write(text);
  };
  /** At each heartbeat, from the start until the response is all sent: lets go of a caller that
   * stopped reading, and, while the stream goes on, keeps proxies from closing an idle one. */
  const heartbeat = () => {
    const waiting = unread();
    const taken = written - waiting;
    if (waiting > (ended ? 0 : MAX_UNREAD_BYTES) && taken === takenAtBeat) {
      deps.log.info({ run: `${namespace}/${name}`, unreadBytes: waiting }, "Closed an event stream whose caller stopped reading");
      ctx.res.destroy();
      return;
    }
    takenAtBeat = taken;
    write(": heartbeat\n\n");
  };
  /** No more events: the run finished or went, or the stream's time ran out. */
  const end = () => {
    if (ended) return;
    ended = true;
    following?.abort();
    unsubscribe();
    for (const timer of timers) clearTimeout(timer);
    stream.end();
  };
  /** The connection closed: its slot among the waits is free. */
  let beating: NodeJS.Timeout | undefined;
  const closed = () => {
    end();
    clearInterval(beating);
    release();
  };
  // The copy streamed: the run as first read, or a later copy (ownCopy.ts).
  const copies = new OwnCopy();
  const show = (run: ScriptRun | undefined, from?: News) => {
    if (!run) {
      if (from?.gone === undefined || copies.deleted(from.gone)) {
        send("deleted", { name, namespace });
        end();
      }
      return;
    }
    if (from) copies.changed(run, from);
    // An earlier copy's news, told late: not the copy streamed. Until the first read says which copy
    // that is, an outcome may be such news: it is kept (ownCopy.ts), and sent after the read if it
    // is the copy's own.
    if (!copies.follows(run) || (!copies.current && isFinished(run.status?.phase))) return;
    // Older than what was told: the first read, or a re-check, answered after a watch event.
    const next = progressOf(seen, run);
    if (!next) return;
    seen = next.seen;
    const { phase, queuePosition } = seen;
    if (next.news) send("phase", { name, namespace, phase, ...(queuePosition !== undefined ? { queuePosition } : {}) });
    if (isFinished(phase)) {
      rest(run);
      send("finished", outcomeOf(run));
      end();
    } else if (!following && phase === "Running" && run.status?.podName) {
      follow(run.status.podName);
    }
  };

  stream.write(`retry: ${RECONNECT_MS}\n\n`);
  // Subscribed before the first read, so no change falls between the two.
  const unsubscribe = deps.waiter.subscribe(namespace, name, show);
  // Before the read, which can take the cluster's timeout: a caller that hangs up meanwhile, or
  // already did while it was authorised, gives its slot back then, not never.
  if (ctx.res.closed) closed();
  else ctx.res.once("close", closed);
  let current: ScriptRun | undefined;
  try {
    current = await deps.runs.get(namespace, name);
  } catch (err) {
    closed();
    throw err;
  }
  if (!current) {
    closed();
    throw notFound(`No run ${name} in namespace ${namespace}`, { name, namespace });
  }
  // Gone already: no stream to answer, and no heartbeat to keep.
  if (ctx.res.closed) throw new ApiError(499, "client_closed", "The client closed the connection before the stream began", { name, namespace });

  ctx.req.socket.setTimeout(0);
  ctx.req.socket.setNoDelay(true);
  ctx.status = 200;
  ctx.type = "text/event-stream";
  ctx.set({ "Cache-Control": "no-cache", "X-Accel-Buffering": "no" });
  ctx.body = stream;
  stream.on("close", end);
  ctx.res.once("finish", () => clearInterval(beating));
  beating = setInterval(heartbeat, deps.config.heartbeatSeconds * 1000);

  // The watch may have told the deletion of the copy read while it was read.
  const goneWhileRead = copies.follow(current);
  show(current);
  const outcomeWhileRead = copies.outcomeToldBefore();
  if (outcomeWhileRead) show(outcomeWhileRead);
  if (goneWhileRead) show(undefined);
  // Finished already (or while it was read): the stream holds every event and has ended.
  if (ended) return;
  timers.push(setTimeout(() => {
    send("timeout", { name, namespace, message: `The stream ends after ${deps.config.maxWaitSeconds} s; reconnect to follow the run further` });
    end();
  }, deps.config.maxWaitSeconds * 1000));
}

/** The bytes of each stream a reconnecting caller has had, from its Last-Event-ID ("stdout-stderr"). */
function resumeFrom(lastEventId: string): { stdout: number; stderr: number } {
  const match = /^(\d{1,15})-(\d{1,15})$/.exec(lastEventId.trim());
  return match ? { stdout: Number(match[1]), stderr: Number(match[2]) } : { stdout: 0, stderr: 0 };
}

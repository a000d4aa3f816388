// GET /runs/:name/events: a Server-Sent Events stream of one run, fed by the shared watch.
// Events: `phase` ({name, namespace, phase, queuePosition?}) on each phase change, then `finished`
// (the outcome, as /execute answers it) and the stream ends; `deleted` when the run goes away
// first; `timeout` when the stream has been open for the longest wait the API allows (reconnect
// to go on). A comment line every heartbeat keeps proxies from closing an idle stream.
import { PassThrough } from "node:stream";
import type { Context } from "koa";
import { type ScriptRun, isFinished } from "../crds/schema.js";
import { notFound } from "./errors.js";
import type { Services } from "./services.js";
import { outcomeOf } from "./views.js";

/** Milliseconds a client should wait before reconnecting (the SSE `retry` field). */
const RECONNECT_MS = 2000;

export async function streamRunEvents(ctx: Context, deps: Services, namespace: string, name: string): Promise<void> {
  const release = deps.waiter.reserve();
  const stream = new PassThrough();
  let lastPhase: string | undefined;
  let ended = false;
  const timers: NodeJS.Timeout[] = [];

  const send = (event: string, data: unknown) => {
    if (!ended) stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const end = () => {
    if (ended) return;
    ended = true;
    unsubscribe();
    for (const timer of timers) clearTimeout(timer);
    release();
    stream.end();
  };
  const show = (run: ScriptRun | undefined) => {
    if (!run) {
      send("deleted", { name, namespace });
      end();
      return;
    }
    const phase = run.status?.phase ?? "Pending";
    if (phase !== lastPhase) {
      lastPhase = phase;
      const position = run.status?.queuePosition;
      send("phase", { name, namespace, phase, ...(position !== undefined ? { queuePosition: position } : {}) });
    }
    if (isFinished(run.status?.phase)) {
      send("finished", outcomeOf(run));
      end();
    }
  };

  stream.write(`retry: ${RECONNECT_MS}\n\n`);
  // Subscribed before the first read, so no change falls between the two.
  const unsubscribe = deps.waiter.subscribe(namespace, name, show);
  let current: ScriptRun | undefined;
  try {
    current = await deps.runs.get(namespace, name);
  } catch (err) {
    end();
    throw err;
  }
  if (!current) {
    end();
    throw notFound(`No run ${name} in namespace ${namespace}`, { name, namespace });
  }

  ctx.req.socket.setTimeout(0);
  ctx.req.socket.setNoDelay(true);
  ctx.status = 200;
  ctx.type = "text/event-stream";
  ctx.set({ "Cache-Control": "no-cache", "X-Accel-Buffering": "no" });
  ctx.body = stream;
  stream.on("close", end);
  ctx.res.once("close", end);

  show(current);
  // Finished already (or while it was read): the stream holds every event and has ended.
  if (ended) return;
  timers.push(setInterval(() => {
    if (!ended) stream.write(": heartbeat\n\n");
  }, deps.config.heartbeatSeconds * 1000));
  timers.push(setTimeout(() => {
    send("timeout", { name, namespace, message: `The stream ends after ${deps.config.maxWaitSeconds} s; reconnect to follow the run further` });
    end();
  }, deps.config.maxWaitSeconds * 1000));
}

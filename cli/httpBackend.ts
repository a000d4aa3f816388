// The HTTP API (--server URL, with --token as a bearer token): the runs resource of api/README.md.
// A run is followed on its event stream, opened again (with Last-Event-ID, once the API sets
// ids) when the API ends it after its longest stream, the connection drops or goes silent for longer
// than the API's heartbeats allow, or a reopen finds the API away for a moment (restarting, say) or
// full (429, for its Retry-After), as EventSource does. A run this process has just created or seen
// is known to be there, so its first open is treated as a reopen. Each submit sends an
// Idempotency-Key, so that a command run again with that key gets the run rather than a second one.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { IDEMPOTENCY_HEADER } from "../api/idempotency.js";
import type { ScriptRunSpecInput } from "../crds/schema.js";
import type { Backend, RunEvent, RunRef, RunSummary, RunView, RuntimeInfo } from "./backend.js";
import { CliError, EXIT, asCliError, exitForStatus, isUnreachable, neverConnected } from "./errors.js";
import { eventOfMessage } from "./events.js";
import { type SseState, sseMessages } from "./sse.js";

/** Longest wait for one answer of the API (the event stream excepted). */
const CALL_TIMEOUT_MS = 30_000;
/** Wait before reopening a stream, until the API names its own (`retry:`). */
const RECONNECT_MS = 2_000;
/** Longest silence on an event stream before it counts as broken: four of the API's heartbeats
 * (every 15 s by default, api/sse.ts), as the Python client waits. Without it a connection that died
 * after its headers would hold the wait until undici's body timeout, 300 s. */
const STREAM_IDLE_MS = 60_000;

/** How long to wait before reopening a stream: its `retry:`, or RECONNECT_MS. */
const reconnectMs = (state: SseState): number => state.retryMs ?? RECONNECT_MS;
const PAGE = 500;

interface ErrorAnswer {
  error?: { type?: string; message?: string };
}

export interface HttpBackendOptions {
  /** Longest silence on an event stream before it is opened again (STREAM_IDLE_MS). */
  streamIdleMs?: number;
}

export class HttpBackend implements Backend {
  readonly where: string;
  private readonly base: string;
  private readonly streamIdleMs: number;

  constructor(url: string, private readonly token: string | undefined, options: HttpBackendOptions = {}) {
    this.base = url.replace(/\/+$/, "");
    this.where = `the API at ${this.base}`;
    this.streamIdleMs = options.streamIdleMs ?? STREAM_IDLE_MS;
  }

  async submit(spec: ScriptRunSpecInput, namespace: string | undefined, idempotencyKey: string = randomUUID()): Promise<RunRef> {
    try {
      return await this.call("POST", "/runs", {}, { ...spec, ...(namespace !== undefined ? { namespace } : {}) },
        { [IDEMPOTENCY_HEADER]: idempotencyKey }) as RunRef;
    } catch (err) {
      // No answer (or a 503 that says the create may land still): the key is the one way to learn
      // whether a run was made without risking a second.
      if (!(err instanceof CliError) || err.exitCode !== EXIT.unreachable || neverConnected(err)) throw err;
      throw new CliError(`${err.message}\nIf the run was created all the same, the same command with --idempotency-key ${idempotencyKey} `
        + "answers that run rather than starting a second one", err.exitCode);
    }
  }

  async get(name: string, namespace: string | undefined): Promise<RunView> {
    return await this.call("GET", `/runs/${encodeURIComponent(name)}`, { namespace }) as RunView;
  }

  async list(namespace: string | undefined): Promise<RunSummary[]> {
    const runs: RunSummary[] = [];
    let token: string | undefined;
    do {
      const page = await this.call("GET", "/runs", { namespace, limit: String(PAGE), continue: token }) as
        { items: RunSummary[]; continue: string | null };
      runs.push(...page.items);
      token = page.continue ?? undefined;
    } while (token !== undefined);
    return runs;
  }

  async cancel(name: string, namespace: string | undefined): Promise<RunRef> {
    return await this.call("DELETE", `/runs/${encodeURIComponent(name)}`, { namespace }) as RunRef;
  }

  async *follow(ref: RunRef, signal: AbortSignal, known = false): AsyncGenerator<RunEvent> {
    const state: SseState = {};
    // How long to wait before opening the stream again; undefined before the first open.
    let pauseMs: number | undefined;
    // Whether the caller was told that the stream cannot be opened again for now.
    let told = false;
    for (;;) {
      if (pauseMs !== undefined && await sleep(pauseMs, false, { signal }).catch(() => true)) return;
      // Cut when nothing came for too long (not even a heartbeat): the connection is dead.
      const connection = new AbortController();
      const silence = setTimeout(() => connection.abort(), this.streamIdleMs);
      try {
        const body = await this.openStream(ref, state, signal, connection.signal, known || pauseMs !== undefined);
        if (!body) return;
        if (body === "deleted") {
          yield { type: "deleted" };
          return;
        }
        if ("retryInMs" in body) {
          pauseMs = body.retryInMs;
          if (!told) yield { type: "interrupted", message: `Lost the run's events: ${this.where} ${body.why}; trying again every ${pauseMs / 1000} s` };
          told = true;
          continue;
        }
        told = false;
        try {
          for await (const message of sseMessages(putOff(silence, body), state)) {
            const event = eventOfMessage(message);
            if (!event) continue;
            yield event;
            if (event.type === "finished" || event.type === "deleted") return;
          }
        } catch (err) {
          // A dropped or silent connection ends the stream as its end does: reopen it. Anything else fails.
          if (signal.aborted) return;
          if (!isUnreachable(err)) throw asCliError(err, this.where);
        }
      } finally {
        clearTimeout(silence);
      }
      pauseMs = reconnectMs(state);
    }
  }

  async runtimes(namespace: string | undefined): Promise<RuntimeInfo[]> {
    return (await this.call("GET", "/runtimes", { namespace }) as { items: RuntimeInfo[] }).items;
  }

  /** The body of the run's event stream; undefined when `signal` fired first. When the run is
   * `known` to be there (its stream was open before, or this process has just created or read it),
   * why the stream cannot be opened and the milliseconds to wait before trying again when the API
   * could not be reached or answered 502, 503 or 504 (it is restarting, say, while the run goes on)
   * or 429 (no room for one more wait, for its Retry-After); and "deleted" when it answers 404, the
   * run gone meanwhile. A run not known fails on those, so that a wrong --server or name is told at
   * once. `connection` cuts this one connection. */
  private async openStream(ref: RunRef, state: SseState, signal: AbortSignal, connection: AbortSignal, known: boolean):
    Promise<AsyncIterable<Uint8Array> | "deleted" | { retryInMs: number; why: string } | undefined> {
    let response: Response;
    try {
      response = await fetch(this.url(`/runs/${encodeURIComponent(ref.name)}/events`, { namespace: ref.namespace }), {
        headers: this.headers({ accept: "text/event-stream", ...(state.lastEventId !== undefined ? { "last-event-id": state.lastEventId } : {}) }),
        signal: AbortSignal.any([signal, connection]),
      });
    } catch (err) {
      if (signal.aborted) return undefined;
      if (known && isUnreachable(err)) return { retryInMs: reconnectMs(state), why: "could not be reached" };
      throw asCliError(err, this.where);
    }
    if (known && (response.status === 404 || response.status === 429 || exitForStatus(response.status) === EXIT.unreachable)) {
      await response.body?.cancel().catch(() => undefined);
      if (response.status === 404) return "deleted";
      const after = response.headers.get("retry-after") ?? "";
      const why = `answered ${response.status}${response.status === 429 ? " (no room for one more wait)" : ""}`;
      return { retryInMs: /^\d+$/.test(after) ? Number(after) * 1000 : reconnectMs(state), why };
    }
    if (!response.ok || !response.body) throw await this.refusal(response);
    return response.body;
  }

  private async call(method: string, path: string, query: Record<string, string | undefined>, body?: unknown,
    headers: Record<string, string> = {}): Promise<unknown> {
    let response: Response;
    let text: string;
    try {
      response = await fetch(this.url(path, query), {
        method,
        headers: this.headers({ ...headers, ...(body !== undefined ? { "content-type": "application/json" } : {}) }),
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      });
      if (!response.ok) throw await this.refusal(response);
      text = await response.text();
    } catch (err) {
      throw asCliError(err, this.where);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new CliError(`${this.where} answered ${method} ${path} with something other than JSON: ${text.slice(0, 200)}`, exitForStatus(502));
    }
  }

  /** An error answer as the CliError it deserves, with the API's own message. */
  private async refusal(response: Response): Promise<CliError> {
    const text = await response.text().catch(() => "");
    let message = text.slice(0, 500) || response.statusText;
    try {
      message = (JSON.parse(text) as ErrorAnswer).error?.message ?? message;
    } catch {
      // Not the API's JSON error (a proxy's page, say): its text is the message.
    }
    return new CliError(`${this.where} answered ${response.status}: ${message}`, exitForStatus(response.status));
  }

  private url(path: string, query: Record<string, string | undefined>): string {
    const params = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined));
    const search = params.toString();
    return `${this.base}${path}${search ? `?${search}` : ""}`;
  }

  private headers(extra: Record<string, string>): Record<string, string> {
    return { ...extra, ...(this.token !== undefined ? { authorization: `Bearer ${this.token}` } : {}) };
  }
}

/** The chunks of `body`, each putting off `silence`, the timer that cuts a connection gone silent. */
async function* putOff(silence: NodeJS.Timeout, body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const chunk of body) {
    silence.refresh();
    yield chunk;
  }
}

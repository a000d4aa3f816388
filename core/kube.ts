// Small helpers for calls to the Kubernetes API through client-node, shared by both processes.
// Errors are client-node's ApiException, whose `.code` is the HTTP status.
import { type ClientRequestArgs, Agent as HttpAgent, STATUS_CODES, request as httpRequest } from "node:http";
import { Agent, type AgentOptions, type RequestOptions, request as httpsRequest } from "node:https";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { type ConnectionOptions, type SecureContext, type TLSSocket, createSecureContext } from "node:tls";
import {
  ApiException, type ConfigurationOptions, FetchError, HttpMethod, KubeConfig, type KubernetesListObject, type KubernetesObject, Observable,
  type ObservableMiddleware, RequestContext, type Watch,
} from "@kubernetes/client-node";
import { GROUP, PLURAL, VERSION } from "../crds/schema.js";
import { LineSplitter } from "./lines.js";
import { parseWatchEvent } from "./watchEvent.js";

/** The Status body of a refusal, parsed; undefined when it is not JSON. */
export function statusBody(err: ApiException<unknown>): { message?: unknown; details?: { kind?: unknown } } | undefined {
  if (typeof err.body !== "string") return (err.body ?? undefined) as { message?: unknown } | undefined;
  try {
    return JSON.parse(err.body) as { message?: unknown } | undefined;
  } catch {
    return undefined;
  }
}

/** The apiserver's own message from a Status body, when there is one. */
export function statusMessage(err: ApiException<unknown>): string {
  const body = statusBody(err);
  if (body === undefined && typeof err.body === "string") return err.body || `HTTP ${err.code}`;
  return typeof body?.message === "string" ? body.message : `HTTP ${err.code}`;
}

/** Where ScriptRuns live in the Kubernetes API, as client-node's CustomObjectsApi takes it. */
export const RUNS = { group: GROUP, version: VERSION, plural: PLURAL } as const;

/** The URL path of ScriptRuns in one namespace, or in all (for informers). */
export function runsPath(namespace?: string): string {
  return `/apis/${GROUP}/${VERSION}${namespace ? `/namespaces/${namespace}` : ""}/${PLURAL}`;
}

export function statusCode(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const fields = err as { code?: unknown; statusCode?: unknown } | null;
  const code = fields?.code ?? fields?.statusCode;
  return typeof code === "number" ? code : undefined;
}

/** The call's answer, or `fallback` when it fails with one of `codes`. */
export async function unless<T, F = T>(codes: number[], call: Promise<T>, fallback: F): Promise<T | F> {
  try {
    return await call;
  } catch (err) {
    if (codes.includes(statusCode(err) ?? 0)) return fallback;
    throw err;
  }
}

/** Objects per page when a whole cache is listed. */
export const LIST_PAGE = 500;

interface CustomList {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items?: unknown[];
}

/**
 * Lists custom objects a page at a time and answers them as one list. In one answer, 10 000 runs
 * were some 20 MB of JSON read and parsed at once, at each start and relist of the controller's
 * and the API's caches: the highest point of their memory. Every page comes from the same
 * snapshot, so the last page's resourceVersion is the list's; a continue token that expired fails
 * the list (410), and the cache lists again. `each` replaces each item as its page arrives (a cache
 * keeps its own copy of an unchanged object, and the page's is dropped with the page).
 */
export async function listInPages(page: (options: { limit: number; _continue?: string }) => Promise<unknown>,
  each: (item: KubernetesObject) => KubernetesObject = (item) => item): Promise<KubernetesListObject<KubernetesObject>> {
  const items: KubernetesObject[] = [];
  let answer: CustomList;
  let next: string | undefined;
  do {
    answer = await page({ limit: LIST_PAGE, ...(next !== undefined ? { _continue: next } : {}) }) as CustomList;
    for (const item of answer.items ?? []) items.push(each(item as KubernetesObject));
    next = answer.metadata?.continue || undefined;
  } while (next !== undefined);
  return { ...answer, metadata: { resourceVersion: answer.metadata?.resourceVersion }, items } as KubernetesListObject<KubernetesObject>;
}

/** Per-call options that abort the request `ms` from now (the error is node-fetch's AbortError).
 * Every request made with them shares that one deadline: a lease renewal's read and write, say.
 * `ms` may be a fraction (two thirds of a lease); the timer takes whole milliseconds. */
export function within(ms: number): ConfigurationOptions<ObservableMiddleware> {
  const signal = AbortSignal.timeout(Math.max(1, Math.ceil(ms)));
  return {
    middleware: [{
      pre: (request) => {
        request.setSignal(signal);
        return new Observable(Promise.resolve(request));
      },
      post: (response) => new Observable(Promise.resolve(response)),
    }],
    middlewareMergeStrategy: "append",
  };
}

/**
 * A keep-alive agent that takes a socket back into its pool only once the response that used it
 * has closed. client-node reads responses with node-fetch 2, which fails a chunked response as
 * "Premature close" when, at the response's `close`, its socket has a `data` listener again. Node
 * frees a kept socket a tick before that `close`, so a request started in between, or Node 20.19's
 * own listener on a free socket (the operator image's nodejs), made every call of a pod fail.
 * node-fetch issue #1767; the test in kube.test.ts shows the order.
 *
 * Its TLS context (the CA, certificate and key) is made once, at its first connection, not at each:
 * under make scale's 1 000 callers, the API's new connections spent a third of its CPU reading them
 * again. `sharing`: an agent of the same TLS options whose context this one uses.
 */
export class KeptAgent extends Agent {
  private context: SecureContext | undefined;

  constructor(options: AgentOptions, private readonly sharing?: KeptAgent) {
    super({ ...options, keepAlive: true });
  }

  /** The TLS context of this agent's connections. */
  secureContext(): SecureContext {
    if (this.sharing) return this.sharing.secureContext();
    return (this.context ??= this.options.secureContext ?? createSecureContext(this.options));
  }

  /** A connection with the agent's TLS context. With the agent's `timeout`, a connection silent that
   * long is closed, busy or not (Node's agent closes only an idle one): its call fails. */
  override createConnection(options: RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const withContext: RequestOptions & Pick<ConnectionOptions, "secureContext"> = { ...options, secureContext: this.secureContext() };
    const socket = super.createConnection(withContext, callback) as TLSSocket | null | undefined;
    const silentMs = this.options.timeout;
    if (socket && silentMs) {
      socket.setTimeout(silentMs);
      // Closed without an error of its own: its call fails as on any connection closed under it
      // ("socket hang up"), and a free socket has no one to tell.
      socket.on("timeout", () => socket.destroy());
    }
    return socket;
  }

  /** A used socket is freed a moment late (see above), listened to for errors meanwhile: without a
   * listener (Node's pool adds one), a reset read in between was an uncaught exception, which ends
   * the process. Reset, it is destroyed, and the agent's `free` passes it over. A new socket is
   * handed over at once: the agent makes one, still connecting, for a call that waited when another
   * closed, and hands it over at its `free`; late, a refused connect was uncaught too, and the agent
   * connected again for the call, refused again, in a loop. */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    const socket = args[0] as Socket | undefined;
    if (event !== "free" || !socket || socket.connecting) return super.emit(event, ...args);
    const ignore = () => {};
    socket.on("error", ignore);
    setImmediate(() => {
      socket.removeListener("error", ignore);
      super.emit(event, ...args);
    });
    return true;
  }

  /** The key of a request's pool of sockets. Node's https agent joins every TLS option into it,
   * decoding the PEM CA, certificate and key from their Buffers at each request and each freed
   * socket: over 1% of the controller's CPU under make scale. This agent's TLS options are its own and
   * never change (reuseConnections makes a new agent when they do), so the host, the port and the
   * server name tell its pools apart. */
  override getName(options: ClientRequestArgs & { servername?: string } = {}): string {
    return `${HttpAgent.prototype.getName.call(this, options)}:${options.servername ?? ""}`;
  }
}

/** Connections a process opens at most for its calls to the apiserver; more calls at once wait
 * for one. Without a cap, 1 000 callers of /execute at once made the API open a TLS connection for
 * nearly each of their runs' creates, a handshake on both sides, to an apiserver that serves only
 * so many requests at once anyway. Watches have connections of their own (`streamAgent`), uncapped:
 * each holds its connection for as long as it runs. */
export const CALL_CONNECTIONS = 32;

/** How long a call's connection may stay silent. Past the apiserver's own limit on a request (60 s,
 * its --request-timeout), so only a connection that died without a word (a load balancer's, say)
 * gets there: it is closed and its call fails, rather than holding its caller and one of the
 * CALL_CONNECTIONS for good. */
export const CALL_SILENCE_MS = 70_000;

/** The agent of the long-lived requests (watches) beside a KeptAgent of calls. */
const streamAgents = new WeakMap<Agent, Agent>();

/** The agent a watch should use beside `agent`, a request's agent: the uncapped twin of the
 * calls' agent of reuseConnections, or `agent` itself (a proxy's, or an http one). */
export function streamAgent(agent: Agent | undefined): Agent | undefined {
  return (agent && streamAgents.get(agent)) ?? agent;
}

/** How long one application of the kubeconfig's credentials serves every request. */
export const CREDENTIALS_FRESH_MS = 1000;

/**
 * Makes the API clients of `kc` reuse their connections to the apiserver. client-node gives each
 * request an agent of its own, so each opened a TLS connection: 4.2 ms for a small GET here, 1.5 ms
 * on a kept connection. This keeps one KeptAgent for as long as the TLS options stay the same (a
 * rotated client certificate gets a new one), of at most CALL_CONNECTIONS connections, each closed
 * after CALL_SILENCE_MS of silence, and its twin for watches (`streamAgent`), whose connections
 * may be silent for as long as a watch has nothing to tell. A proxy's agent is left as it is.
 *
 * client-node also applies the credentials anew for each request, reading the kubeconfig's
 * certificate, key and CA files again each time: 6% of the controller's CPU under make scale. One
 * application now serves the requests of the next second (`CREDENTIALS_FRESH_MS`), so a rotated
 * file or token still takes effect within it.
 */
export function reuseConnections(kc: KubeConfig, now: () => number = Date.now): KubeConfig {
  const apply = kc.applySecurityAuthentication.bind(kc);
  let shared: { id: string; agent: Agent } | undefined;
  let applied: { at: number; headers: Record<string, string>; agent: Agent | undefined } | undefined;
  const freshlyApplied = async () => {
    if (applied && now() - applied.at < CREDENTIALS_FRESH_MS) return applied;
    const probe = new RequestContext(kc.getCurrentCluster()?.server ?? "https://localhost", HttpMethod.GET);
    await apply(probe);
    let agent = probe.getAgent() as Agent | undefined;
    if (agent && agent.constructor === Agent) {
      const { ca, cert, key, pfx, passphrase, rejectUnauthorized, servername } = agent.options;
      const id = JSON.stringify([ca, cert, key, pfx, passphrase, rejectUnauthorized, servername].map((o) => (o === undefined ? null : String(o))));
      if (shared?.id !== id) {
        const calls = new KeptAgent({ ...agent.options, maxSockets: CALL_CONNECTIONS, timeout: CALL_SILENCE_MS });
        streamAgents.set(calls, new KeptAgent(agent.options, calls));
        shared = { id, agent: calls };
      }
      agent = shared.agent;
    }
    applied = { at: now(), headers: probe.getHeaders(), agent };
    return applied;
  };
  kc.applySecurityAuthentication = async (context) => {
    const { headers, agent } = await freshlyApplied();
    for (const [name, value] of Object.entries(headers)) context.setHeaderParam(name, value);
    if (agent) context.setAgent(agent);
  };
  return kc;
}

/** A copy of `kc` with connections of its own (reuseConnections): its requests never queue behind
 * `kc`'s, however many of those wait for one of their CALL_CONNECTIONS. */
export function ownConnections(kc: KubeConfig): KubeConfig {
  const copy = new KubeConfig();
  copy.loadFromOptions({ clusters: kc.clusters, users: kc.users, contexts: kc.contexts, currentContext: kc.currentContext });
  return reuseConnections(copy);
}

/** A request's URL, JSON headers with the kubeconfig's credentials, and agent (reuseConnections).
 * The headers are name, value, name, value…, Host among them: given so, Node writes them as they
 * are, where an object's each go through setHeader's checks (12 µs less CPU per request, measured
 * with a local HTTPS server). */
async function prepared(kc: KubeConfig, path: string) {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error("The kubeconfig names no cluster");
  const url = `${server.replace(/\/+$/, "")}${path}`;
  const context = new RequestContext(url, HttpMethod.GET);
  await kc.applySecurityAuthentication(context);
  const headers = ["Host", new URL(url).host, "Accept", "application/json"];
  for (const [name, value] of Object.entries(context.getHeaders())) headers.push(name, value);
  return { url, headers, agent: context.getAgent() as Agent | undefined, send: url.startsWith("http:") ? httpRequest : httpsRequest };
}

export type JsonMethod = "GET" | "POST" | "PATCH" | "DELETE";

/** How one JsonClient call is made. */
export interface CallOptions {
  /** The body's type (a PATCH says which kind of patch); JSON by default. */
  contentType?: string;
  /** Longest wait for the whole answer, counted from the call, time waiting for a connection
   * included; past it the call fails with CallTimeout. */
  timeoutMs?: number;
}

/** A call that got no whole answer within its timeout. `sent`: whether the whole request had been
 * handed to the connection's socket by then, so the apiserver may have acted on it. A call still
 * waiting for one of the CALL_CONNECTIONS, or on a connection still opening (its TLS handshake not
 * done), was never written. Named AbortError, as client-node's calls that time out fail. */
export class CallTimeout extends Error {
  override readonly name = "AbortError";

  constructor(timeoutMs: number, readonly sent: boolean) {
    super(sent
      ? `The Kubernetes API did not answer within ${timeoutMs} ms`
      : `No connection to the Kubernetes API was ready within ${timeoutMs} ms: the call was not sent`);
  }
}

/**
 * Plain JSON requests to the apiserver, with the kubeconfig's credentials and connections (see
 * reuseConnections), for the calls made at every run: the controller's pod creates and deletes,
 * status patches and Events, and the API's creates and reads. client-node's typed calls convert
 * each pod and Event through its ObjectSerializer on the way out and again on the way back, and
 * read the answer through node-fetch: a third of the controller's CPU profile under make scale,
 * for objects that are JSON already. Failures are as client-node's: an answer's ApiException, so
 * `unless` and `statusCode` read them alike, and the connection's failures (refused, reset, an
 * untrusted certificate) node-fetch's FetchError with the system error's `code`.
 */
export class JsonClient {
  constructor(private readonly kc: KubeConfig) {}

  /** The answer's JSON. */
  request<T>(method: JsonMethod, path: string, body?: unknown, options: CallOptions = {}): Promise<T> {
    return this.exchange<T>(method, path, body, options, "json");
  }

  /** The same, for a caller that needs no answer: a successful one is not parsed. */
  async send(method: JsonMethod, path: string, body?: unknown, options: CallOptions = {}): Promise<void> {
    await this.exchange(method, path, body, options, "none");
  }

  /** The answer's JSON as the apiserver wrote it, for a caller that must see more than JSON.parse keeps. */
  text(method: JsonMethod, path: string, options: CallOptions = {}): Promise<string> {
    return this.exchange<string>(method, path, undefined, options, "text");
  }

  private async exchange<T>(method: JsonMethod, path: string, body: unknown, options: CallOptions, read: "json" | "none" | "text"): Promise<T> {
    const began = Date.now();
    const { url, headers, agent, send } = await prepared(this.kc, path);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) headers.push("Content-Type", options.contentType ?? "application/json", "Content-Length", String(Buffer.byteLength(payload)));
    return new Promise<T>((resolvePromise, rejectPromise) => {
      let timer: NodeJS.Timeout | undefined;
      const resolve = (answer: T) => {
        clearTimeout(timer);
        resolvePromise(answer);
      };
      const reject = (err: Error) => {
        clearTimeout(timer);
        rejectPromise(err instanceof ApiException || err instanceof CallTimeout
          ? err : new FetchError(`request to ${url} failed, reason: ${err.message}`, "system", err));
      };
      const sent = send(url, { method, headers, agent }, (response) => {
        const code = response.statusCode ?? 0;
        const ok = code >= 200 && code < 300;
        response.on("error", reject);
        if (ok && read === "none") {
          response.on("end", () => resolve(undefined as T)).resume();
          return;
        }
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if (ok && read === "text") {
            resolve(text as T);
            return;
          }
          let answer: unknown = text;
          try {
            answer = text === "" ? undefined : JSON.parse(text);
          } catch {
            // Not JSON (a proxy's error page, say): kept as text.
          }
          if (ok) resolve(answer as T);
          else {
            const headers = Object.fromEntries(Object.entries(response.headers).map(([name, value]) => [name, String(value)]));
            reject(new ApiException(code, `${method} ${path}`, answer, headers));
          }
        });
      });
      sent.on("error", reject);
      if (options.timeoutMs !== undefined) {
        const { timeoutMs } = options;
        // "finish": the request's last byte went to the operating system, which a socket still
        // connecting or in its TLS handshake holds back.
        let written = false;
        sent.once("finish", () => { written = true; });
        timer = setTimeout(() => {
          const late = new CallTimeout(timeoutMs, written);
          reject(late);
          // A call still queued leaves the queue; one under way closes its connection.
          sent.destroy(late);
        }, Math.max(0, timeoutMs - (Date.now() - began)));
      }
      sent.end(payload);
    });
  }
}

/** How long a watch waits for the apiserver's answer (its status line; the events may then be
 * silent for as long as there is nothing to tell) before it is done with an error and retried. */
export const WATCH_ANSWER_MS = 30_000;

/**
 * client-node's Watch, for its informers (ListWatch), reading the event stream straight off the
 * response, on the kept connections of reuseConnections. client-node's own reads it through
 * node-fetch, a PassThrough and readline: in the controller's profile under make scale, 0.17 ms of
 * CPU per run, beside 0.72 ms for parsing and caching the events themselves. Each event is a line
 * of JSON, parsed without its object's managedFields (watchEvent.ts); a line that is not JSON is
 * passed over, as client-node does. `done` is called once: with
 * null when the apiserver ends the watch, else with why it failed (an error with the HTTP
 * `statusCode` when the watch was refused, 410 among them), or the abort's error after `abort()`.
 */
export class LineWatch implements Watch {
  /** Every watch not yet done, answered or still waiting for its answer. */
  private readonly open = new Set<AbortController>();
  private stopped = false;

  /** `answerMs`: how long a watch waits for its answer (WATCH_ANSWER_MS). */
  constructor(readonly config: KubeConfig, private readonly answerMs = WATCH_ANSWER_MS) {}

  /** Ends every watch of this LineWatch, those still waiting for an answer too, and any asked for
   * later: an informer's stop can abort only the watch it was handed, never one still on its way. */
  stop(): void {
    this.stopped = true;
    for (const controller of this.open) controller.abort();
  }

  async watch(path: string, queryParams: Record<string, string | number | boolean | undefined>,
    callback: (type: string, object: unknown, event: unknown) => void, done: (err: unknown) => void): Promise<AbortController> {
    const controller = new AbortController();
    const lines = new LineSplitter((bytes) => {
      let event: { type?: string; object?: unknown };
      try {
        event = parseWatchEvent(bytes) as typeof event;
      } catch {
        return;
      }
      callback(event.type ?? "", event.object, event);
    });
    let finished = false;
    const finish = (err: unknown) => {
      if (finished) return;
      finished = true;
      this.open.delete(controller);
      lines.stop();
      controller.abort();
      done(err);
    };
    this.open.add(controller);
    if (this.stopped) controller.abort();
    try {
      const query = new URLSearchParams({ watch: "true" });
      for (const [name, value] of Object.entries(queryParams)) if (value !== undefined) query.set(name, String(value));
      const { url, headers, agent, send } = await prepared(this.config, `${path}?${query}`);
      if (controller.signal.aborted) throw new Error(`The watch of ${path} was stopped before it began`);
      // Settled once the answer's status is known, as client-node's Watch is: a refused watch is
      // done before this returns, so an informer's start fails with it (were it done later, the
      // start would look good, and a watch refused over and over would be retried at once each time).
      await new Promise<void>((answered) => {
        const unanswered = setTimeout(() => finish(new Error(`No answer to the watch of ${path} within ${this.answerMs} ms`)), this.answerMs);
        const settle = () => {
          clearTimeout(unanswered);
          answered();
        };
        controller.signal.addEventListener("abort", settle, { once: true });
        const sent = send(url, { method: "GET", headers, agent: streamAgent(agent), signal: controller.signal }, (response) => {
          response.on("error", finish);
          response.on("close", () => finish(null));
          if (response.statusCode !== 200) {
            const code = response.statusCode ?? 0;
            finish(Object.assign(new Error(`${STATUS_CODES[code] ?? `HTTP ${code}`}: the watch of ${path}`), { statusCode: code }));
            response.resume();
          } else {
            response.on("data", (chunk: Buffer) => lines.push(chunk));
          }
          settle();
        });
        sent.on("error", finish);
        sent.end();
      });
    } catch (err) {
      finish(err);
    }
    return controller;
  }
}

// The page's client of the HTTP API (api/README.md): JSON calls with the tab's bearer token, and a
// run's Server-Sent Events read from a fetch body (EventSource cannot send an Authorization header).
// Paths are relative to the page, so the page works wherever the API is mounted.

/** What a run came to: the API's Outcome (POST /execute's answer, the `finished` event). */
export interface Outcome {
  name: string | null;
  namespace: string;
  success: boolean | null;
  phase: string | null;
  result: unknown;
  stdout: string;
  stderr: string;
  error: RunError | null;
  exitCode: number | null;
  durationMs: number | null;
}

export interface RunError {
  type: string;
  message: string;
  line?: number;
  traceback?: string;
  suggestions?: string[];
  availableFunctions?: string[];
}

export interface RuntimeInfo {
  name: string;
  default: boolean;
  image: string;
  modules: string[];
  defaults: { timeoutSeconds: number; cpu: string; memory: string };
  maxima: { timeoutSeconds: number; cpu: string; memory: string };
}

export interface RunEvent {
  event: string;
  data: Record<string, unknown>;
}

/** An answer that is not 2xx, with the API's error type and message. */
export class ApiFailure extends Error {
  constructor(readonly status: number, readonly type: string, message: string, readonly issues: Array<{ path: unknown[]; message: string }> = []) {
    super(message);
  }

  /** The status and message, as a person reads them. */
  get plain(): string {
    const names: Record<number, string> = { 401: "Unauthenticated", 403: "Forbidden", 404: "Not found", 429: "Too many requests", 503: "Unavailable" };
    return `${this.status}${names[this.status] ? ` ${names[this.status]}` : ""}: ${this.message}`;
  }
}

const TOKEN_KEY = "scriptrun.token";

export class Api {
  /** Told of every 401 and 403, whichever call got it. */
  onAuthFailure: (failure: ApiFailure) => void = () => {};

  get token(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  set token(value: string | null) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  }

  async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const response = await this.fetch(method, path, body, signal);
    return await response.json() as T;
  }

  /** The run's events until it finished, was deleted, or the API ended the stream (`timeout`). */
  async *events(name: string, namespace: string, signal: AbortSignal): AsyncGenerator<RunEvent> {
    const response = await this.fetch("GET", `runs/${encodeURIComponent(name)}/events?namespace=${encodeURIComponent(namespace)}`, undefined, signal);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value.replace(/\r\n?/g, "\n");
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = parseEvent(block);
          if (event) yield event;
        }
      }
    } finally {
      reader.releaseLock();
    }
  }

  private async fetch(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json" };
    const token = this.token;
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(new URL(path, document.baseURI), {
      method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), ...(signal ? { signal } : {}),
    });
    if (response.ok) return response;
    const failure = await failureOf(response);
    if (failure.status === 401 || failure.status === 403) this.onAuthFailure(failure);
    throw failure;
  }
}

async function failureOf(response: Response): Promise<ApiFailure> {
  try {
    const { error } = await response.json() as { error: { type: string; message: string; issues?: ApiFailure["issues"] } };
    return new ApiFailure(response.status, error.type, error.message, error.issues ?? []);
  } catch {
    return new ApiFailure(response.status, "http", response.statusText || "The API answered without a body");
  }
}

/** One Server-Sent Event block; comments (heartbeats) and `retry:` alone are no event. */
function parseEvent(block: string): RunEvent | undefined {
  let event = "message";
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return undefined;
  return { event, data: JSON.parse(data.join("\n")) as Record<string, unknown> };
}

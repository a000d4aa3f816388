// Starts the real API as a child process against the test cluster, as it runs in production (its
// own process, its own shared watch), on a free port of the loopback.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Build, answering, freePort, serverNodeArgs } from "./kube.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface ApiProcess {
  child: ChildProcess;
  url: string;
}

/** Starts the API with `env` on top of local-use defaults and waits until /readyz answers 200;
 * `output`: where its stdout and stderr go (this process's own, or an open file). */
export async function startApi(env: Record<string, string>, build: Build = "source", output: "inherit" | number = "inherit"): Promise<ApiProcess> {
  const port = await freePort();
  const child = spawn("node", serverNodeArgs("api/main", build), {
    cwd: repo,
    env: {
      ...process.env,
      SCRIPTRUN_API_HOST: "127.0.0.1",
      SCRIPTRUN_API_PORT: String(port),
      SCRIPTRUN_API_AUTH: "none",
      SCRIPTRUN_LOG_LEVEL: "error",
      ...env,
    },
    stdio: ["ignore", output, output],
  });
  const url = `http://127.0.0.1:${port}`;
  await answering("the API to be ready", child, `${url}/readyz`);
  return { child, url };
}

export interface StreamEvent {
  id?: string;
  event: string;
  data: Record<string, unknown>;
  /** When it arrived (performance.now()). */
  at: number;
}

/** Reads a run's Server-Sent Events from the API until `last` arrives (or the stream ends), each
 * with its id and when it came; `lastEventId` resumes a stream as a reconnecting client does. */
export async function readEvents(api: ApiProcess, path: string, last: string, lastEventId?: string): Promise<StreamEvent[]> {
  const response = await fetch(`${api.url}${path}`, { headers: lastEventId ? { "Last-Event-ID": lastEventId } : {} });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
  const events: StreamEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of response.body!) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const field = (key: string) => new RegExp(`^${key}: (.*)$`, "m").exec(block)?.[1];
      const [id, event, data] = [field("id"), field("event"), field("data")];
      if (event === undefined || data === undefined) continue;
      events.push({ ...(id !== undefined ? { id } : {}), event, data: JSON.parse(data) as Record<string, unknown>, at: performance.now() });
      if (event === last) return events;
    }
  }
  return events;
}

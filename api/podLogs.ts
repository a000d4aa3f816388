// The runner's container log, followed while a run runs: where live output's frames come from
// (core/liveOutput.ts). The API reads it with its own service account (pods/log); a watcher of a
// run is one the API has already let read that run.
import { once } from "node:events";
import { createInterface } from "node:readline";
import { PassThrough } from "node:stream";
import { type KubeConfig, Log } from "@kubernetes/client-node";

export interface PodLogs {
  /** Calls `line` with each line of the container's log, from its start, and follows it until the
   * container ends or `signal` aborts; resolves then. Throws when the log cannot be read. */
  follow(namespace: string, pod: string, container: string, line: (text: string) => void, signal: AbortSignal): Promise<void>;
}

export class KubePodLogs implements PodLogs {
  constructor(private readonly kc: KubeConfig) {}

  async follow(namespace: string, pod: string, container: string, line: (text: string) => void, signal: AbortSignal): Promise<void> {
    const stream = new PassThrough();
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    lines.on("line", line);
    const closed = once(lines, "close");
    const request = await new Log(this.kc).log(namespace, pod, container, stream, { follow: true });
    const stop = () => {
      request.abort();
      stream.end();
    };
    if (signal.aborted) stop();
    signal.addEventListener("abort", stop, { once: true });
    try {
      await closed;
    } finally {
      signal.removeEventListener("abort", stop);
    }
  }
}

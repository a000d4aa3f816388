// The runs started from this tab (their names kept in sessionStorage), each followed live over its
// event stream until it finished, and drawn as the rows of the Recent runs table. A browser gives an
// origin six connections at once, so only the newest few unfinished runs hold a stream; an older
// one catches up (its stream sends the current phase first) when a stream is free again.
import { type Api, ApiFailure, type Outcome } from "./api.js";

export interface TrackedRun {
  name: string;
  namespace: string;
  /** The last phase seen; null before the stream first told it. */
  phase: string | null;
  queuePosition?: number;
  outcome?: Outcome;
  /** Deleted (its TTL ran out, or someone deleted it). */
  gone?: boolean;
  /** What the script printed so far, as the stream's `output` events told it, and how many bytes. */
  output: { stdout: string; stderr: string };
  outputBytes: { stdout: number; stderr: number };
}

const noOutput = () => ({ output: { stdout: "", stderr: "" }, outputBytes: { stdout: 0, stderr: 0 } });

const RUNS_KEY = "scriptrun.runs";
const KEPT = 20;
const MAX_STREAMS = 3;
const RETRY_MS = 2000;

const isOver = (run: TrackedRun) => run.gone === true || run.outcome !== undefined;

export class RunTracker {
  private runs: TrackedRun[] = [];
  private readonly streams = new Map<string, AbortController>();

  /** `onChange` hears of every run that changed, and of one no longer kept (not in `all`). */
  constructor(private readonly api: Api, private readonly onChange: (run: TrackedRun) => void) {}

  /** The runs of earlier page loads in this tab, followed again. */
  restore(): void {
    const saved = JSON.parse(sessionStorage.getItem(RUNS_KEY) ?? "[]") as Array<{ name: string; namespace: string }>;
    this.runs = saved.map(({ name, namespace }) => ({ name, namespace, phase: null, ...noOutput() }));
    for (const run of this.runs) this.onChange(run);
    this.follow();
  }

  get all(): readonly TrackedRun[] {
    return this.runs;
  }

  add(name: string, namespace: string): TrackedRun {
    const run: TrackedRun = { name, namespace, phase: "Pending", ...noOutput() };
    this.runs.unshift(run);
    for (const dropped of this.runs.splice(KEPT)) {
      this.streams.get(dropped.name)?.abort();
      this.onChange(dropped);
    }
    this.save();
    this.onChange(run);
    this.follow();
    return run;
  }

  /** Asks the API to cancel the run; its stream then brings the cancelled outcome. */
  async cancel(run: TrackedRun): Promise<void> {
    await this.api.call("DELETE", `runs/${encodeURIComponent(run.name)}?namespace=${encodeURIComponent(run.namespace)}`);
  }

  private save(): void {
    sessionStorage.setItem(RUNS_KEY, JSON.stringify(this.runs.map(({ name, namespace }) => ({ name, namespace }))));
  }

  /** Streams for the newest unfinished runs, none for the others. */
  private follow(): void {
    const wanted = new Set(this.runs.filter((r) => !isOver(r)).slice(0, MAX_STREAMS).map((r) => r.name));
    for (const [name, stream] of this.streams) {
      if (!wanted.has(name)) stream.abort();
    }
    for (const run of this.runs) {
      if (wanted.has(run.name) && !this.streams.has(run.name)) void this.stream(run);
    }
  }

  private async stream(run: TrackedRun): Promise<void> {
    const controller = new AbortController();
    this.streams.set(run.name, controller);
    try {
      for await (const { event, data } of this.api.events(run.name, run.namespace, controller.signal)) {
        if (event === "phase") {
          run.phase = String(data.phase);
          if (typeof data.queuePosition === "number") run.queuePosition = data.queuePosition;
          else delete run.queuePosition;
        } else if (event === "output") {
          const stream = data.stream === "stderr" ? "stderr" : "stdout";
          const text = String(data.text);
          const end = Number(data.offset) + new TextEncoder().encode(text).length;
          // A stream opened again (after the API's `timeout`) starts over: what was had is passed over.
          if (end > run.outputBytes[stream]) {
            run.output[stream] += text;
            run.outputBytes[stream] = end;
          }
        } else if (event === "finished") {
          run.outcome = data as unknown as Outcome;
          run.phase = run.outcome.phase;
        } else if (event === "deleted") {
          run.gone = true;
        }
        // `timeout`: the API closes a stream after its longest wait; the next one goes on.
        this.onChange(run);
      }
    } catch (err) {
      if (controller.signal.aborted) return;
      if (err instanceof ApiFailure && err.status === 404) {
        run.gone = true;
        this.onChange(run);
      } else {
        // The API restarting, a network hiccup: try again in a moment.
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    } finally {
      if (this.streams.get(run.name) === controller) this.streams.delete(run.name);
      if (!controller.signal.aborted) this.follow();
    }
  }
}

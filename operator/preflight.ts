// A client for the harness's preflight server (`python3 runner.py --preflight-server`): one
// long-lived child that checks scripts with CPython's own parser without running them. Requests
// are pipelined as JSON lines and answered in order. A child that dies, answers garbage or takes
// longer than the timeout is killed; its pending requests fail and the next request starts a
// fresh child. Used by the controller and by the API.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type PreflightAnswer, parsePreflightAnswer } from "./envelope.js";
import type { RunnerRequest } from "./request.js";

export type { PreflightAnswer };

/** Where runner.py lives in the controller and API images. */
export const IMAGE_RUNNER_PATH = "/opt/scriptrun/runner.py";

/** images/runner/runner.py of the checkout this module runs from (also from dist/), else the image's path. */
export function defaultRunnerPath(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, "images", "runner", "runner.py");
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return IMAGE_RUNNER_PATH;
  }
}

export interface PreflightOptions {
  /** Path to runner.py; defaultRunnerPath() when absent. */
  runnerPath?: string;
  python?: string;
  /** Longest wait for one answer; past it the child is restarted. */
  timeoutMs?: number;
}

export class PreflightError extends Error {}

interface Pending {
  resolve: (answer: PreflightAnswer) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const STDERR_TAIL = 2048;

export class PreflightClient {
  private readonly runnerPath: string;
  private readonly python: string;
  private readonly timeoutMs: number;
  private child: ChildProcessWithoutNullStreams | undefined;
  private pending: Pending[] = [];
  private stderrTail = "";
  private closed = false;

  constructor(options: PreflightOptions = {}) {
    this.runnerPath = options.runnerPath ?? defaultRunnerPath();
    this.python = options.python ?? "python3";
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Checks a request without running it: `{ok: true}` or `{ok: false, error}`. Rejects when the server fails. */
  check(request: Pick<RunnerRequest, "script" | "mode" | "entrypoint"> & Partial<RunnerRequest>): Promise<PreflightAnswer> {
    if (this.closed) return Promise.reject(new PreflightError("The preflight client is closed"));
    const child = this.child ?? this.spawn();
    return new Promise((resolve, reject) => {
      const timeout = new PreflightError(`The preflight server gave no answer within ${this.timeoutMs} ms`);
      const timer = setTimeout(() => this.fail(child, timeout), this.timeoutMs);
      this.pending.push({ resolve, reject, timer });
      child.stdin.write(`${JSON.stringify(request)}\n`);
    });
  }

  /** Ends the child; pending checks fail. */
  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
    this.fail(child, new PreflightError("The preflight client was closed"));
    await exited;
  }

  private spawn(): ChildProcessWithoutNullStreams {
    const child = spawn(this.python, [this.runnerPath, "--preflight-server"], { stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    this.stderrTail = "";
    createInterface({ input: child.stdout }).on("line", (line) => this.answer(child, line));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL);
    });
    // A write to a dead child fails with EPIPE; the exit below reports why it died.
    child.stdin.on("error", () => undefined);
    child.on("error", (err) => this.fail(child, new PreflightError(`The preflight server could not run: ${err.message}`)));
    // "close", not "exit": by then stderr has been read to the end.
    child.on("close", (code, signal) => {
      const stderr = this.stderrTail.trim();
      this.fail(child, new PreflightError(
        `The preflight server exited (${signal ?? `code ${code}`})${stderr ? `: ${stderr}` : ""}`));
    });
    return child;
  }

  private answer(child: ChildProcessWithoutNullStreams, line: string): void {
    if (child !== this.child) return;
    const entry = this.pending.shift();
    if (!entry) {
      this.fail(child, new PreflightError("The preflight server answered a question nobody asked"));
      return;
    }
    clearTimeout(entry.timer);
    try {
      entry.resolve(parsePreflightAnswer(line));
    } catch (err) {
      // Out of step with the child: the answers after this one cannot be trusted either.
      entry.reject(err as Error);
      this.fail(child, new PreflightError("The preflight server was restarted after a malformed answer"));
    }
  }

  private fail(child: ChildProcessWithoutNullStreams, err: Error): void {
    if (child !== this.child) return;
    this.child = undefined;
    child.kill("SIGKILL");
    const pending = this.pending;
    this.pending = [];
    for (const entry of pending) {
      clearTimeout(entry.timer);
      entry.reject(err);
    }
  }
}

// A client for the harness's preflight server (`python3 runner.py --preflight-server`): a small
// pool of long-lived children that check scripts with CPython's own parser without running them.
// Each check goes to the child with the fewest in flight; requests to one child are pipelined as
// JSON lines and answered in order. A child that answers garbage is killed and its pending checks
// fail. A child that dies, or takes longer than the timeout on one check, fails only the check it
// was working on: the checks queued behind it are sent again to a fresh child, so one pathological
// script cannot fail everyone else's. An answer depends on the request alone, so the last ones are
// kept and a check asked again (the same script run again with the same arguments) is answered
// without a child. Used by the controller and by the API.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createHash } from "node:crypto";
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
  /** Children checking at once (default 2: parsing is CPU-bound, and the nodes here have few cores). */
  workers?: number;
}

/** Answers kept, the least recently asked dropped first. Each costs its digest and a small answer. */
const KEPT_ANSWERS = 1024;

/** How the processes configure their preflight checker (core/runSettings.ts). */
export type PreflightSettings = Required<PreflightOptions>;

export class PreflightError extends Error {}

type Request = Pick<RunnerRequest, "script" | "mode" | "entrypoint"> & Partial<RunnerRequest>;

interface Pending {
  line: string;
  resolve: (answer: PreflightAnswer) => void;
  reject: (err: Error) => void;
  /** Set while this check is the one its child is working on. */
  timer: NodeJS.Timeout | undefined;
  /** Sent again once already, after the check ahead of it timed out. */
  resent: boolean;
}

const STDERR_TAIL = 2048;

export class PreflightClient {
  private readonly workers: Worker[];
  /** Answers and checks in flight by the digest of their request line, in order of last use. */
  private readonly answers = new Map<string, Promise<PreflightAnswer>>();
  private closed = false;

  constructor(options: PreflightOptions = {}) {
    const spawnArgs = { python: options.python ?? "python3", runnerPath: options.runnerPath ?? defaultRunnerPath() };
    const timeoutMs = options.timeoutMs ?? 10_000;
    this.workers = Array.from({ length: Math.max(1, options.workers ?? 2) }, () => new Worker(spawnArgs, timeoutMs));
  }

  /** Checks a request without running it: `{ok: true}` or `{ok: false, error}`. Rejects when the server fails. */
  check(request: Request): Promise<PreflightAnswer> {
    if (this.closed) return Promise.reject(new PreflightError("The preflight client is closed"));
    const line = `${JSON.stringify(request)}\n`;
    const digest = createHash("sha256").update(line).digest("base64");
    const known = this.answers.get(digest);
    this.answers.delete(digest);
    const answer = known ?? this.ask(line);
    this.answers.set(digest, answer);
    if (this.answers.size > KEPT_ANSWERS) this.answers.delete(this.answers.keys().next().value!);
    // A failed check is the server's failure, not the request's: the next one asks again.
    if (!known) answer.catch(() => this.answers.get(digest) === answer && this.answers.delete(digest));
    return answer;
  }

  private ask(line: string): Promise<PreflightAnswer> {
    const worker = this.workers.reduce((best, w) => (w.inFlight < best.inFlight ? w : best));
    return new Promise<PreflightAnswer>((resolve, reject) => {
      worker.send({ line, resolve, reject, timer: undefined, resent: false });
    }).then(deepFreeze);
  }

  /** Ends the children; pending checks fail. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.close()));
  }
}

/** `value`, made read-only all the way down: one answer is shared by every check of its request. */
function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}

/** One preflight child at a time, restarted on demand. */
class Worker {
  private child: ChildProcessWithoutNullStreams | undefined;
  private pending: Pending[] = [];
  private stderrTail = "";

  constructor(private readonly spawnArgs: { python: string; runnerPath: string }, private readonly timeoutMs: number) {}

  get inFlight(): number {
    return this.pending.length;
  }

  send(entry: Pending): void {
    const child = this.child ?? this.spawn();
    this.pending.push(entry);
    if (this.pending.length === 1) this.arm(child);
    child.stdin.write(entry.line);
  }

  async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
    this.fail(child, new PreflightError("The preflight client was closed"));
    await exited;
  }

  /** Starts the clock of the check at the head of the line: the one the child is working on now. */
  private arm(child: ChildProcessWithoutNullStreams): void {
    const head = this.pending[0];
    if (!head || head.timer) return;
    head.timer = setTimeout(() => this.failHead(child, new PreflightError(`The preflight server gave no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
  }

  /** Fails the check the child was working on, and sends those behind it to a fresh child. */
  private failHead(child: ChildProcessWithoutNullStreams, err: Error): void {
    if (child !== this.child) return;
    const [head, ...behind] = this.pending;
    this.pending = head ? [head] : [];
    this.fail(child, err);
    // The rest never reached the child's parser; a check already sent twice fails rather than loops.
    for (const entry of behind) {
      if (entry.resent) entry.reject(new PreflightError("The preflight server was restarted twice with this check waiting"));
      else this.send({ ...entry, resent: true });
    }
  }

  private spawn(): ChildProcessWithoutNullStreams {
    const child = spawn(this.spawnArgs.python, [this.spawnArgs.runnerPath, "--preflight-server"], { stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    this.stderrTail = "";
    createInterface({ input: child.stdout }).on("line", (line) => this.answer(child, line));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL);
    });
    // A write to a dead child fails with EPIPE; the exit below reports why it died.
    child.stdin.on("error", () => undefined);
    child.on("error", (err) => this.fail(child, new PreflightError(`The preflight server could not run: ${err.message}`)));
    // "close", not "exit": by then stderr has been read to the end. Answers come in order, so
    // what killed it is the check at the head of the line.
    child.on("close", (code, signal) => {
      const stderr = this.stderrTail.trim();
      this.failHead(child, new PreflightError(
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
    this.arm(child);
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

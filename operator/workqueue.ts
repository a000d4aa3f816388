// A work queue of keys, as controller-runtime's: a key added many times is processed once; a key
// is never processed by two workers at once (added while processing, it runs again afterwards);
// failures retry with per-key exponential backoff; a handler may ask to run again after a delay;
// at most `workers` keys are processed at a time; shutdown stops taking work and waits for the
// keys in flight. Keys added `urgent` (news of a run's pod) go before the others: under a burst of
// new runs, the runs already running still finish, and their callers get their answers, instead
// of waiting behind every start.

export interface ProcessResult {
  /** Run the key again after this many milliseconds (e.g. a TTL or a bounded wait). */
  requeueAfterMs?: number;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

export interface WorkQueueOptions {
  /** Handles one key; `queuedAt` is when it was added (timers.now()), i.e. when its news arrived. */
  process: (key: string, queuedAt: number) => Promise<ProcessResult | void>;
  workers: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Told about every failure, with the delay before the retry. */
  onError?: (key: string, err: unknown, retryInMs: number) => void;
  /** Told how long each key waited between being queued and being picked up. */
  onPickup?: (key: string, waitedMs: number) => void;
  /** Hold every key added until start(): the caches a handler reads are not filled yet. */
  paused?: boolean;
  timers?: Timers;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  now: () => Date.now(),
};

export class WorkQueue {
  /** Keys waiting, in the order they came (a Set keeps it): the urgent ones first, then the rest. */
  private readonly urgent = new Set<string>();
  private readonly waiting = new Set<string>();
  /** Keys waiting or to be queued again once processing ends: when they were added, and whether urgent. */
  private readonly dirty = new Map<string, { at: number; urgent: boolean }>();
  private readonly processing = new Set<string>();
  private readonly delayed = new Map<string, { at: number; handle: unknown }>();
  private readonly failures = new Map<string, number>();
  private readonly timers: Timers;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private stopping = false;
  private paused: boolean;
  private idle: (() => void) | undefined;

  constructor(private readonly options: WorkQueueOptions) {
    this.paused = options.paused ?? false;
    this.timers = options.timers ?? realTimers;
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 60_000;
  }

  /** Keys waiting to be processed (not counting those in flight or delayed). */
  get depth(): number {
    return this.urgent.size + this.waiting.size;
  }

  /** `urgent`: ahead of the keys not urgent (a waiting key moves up when such news comes for it). */
  add(key: string, urgent = false): void {
    if (this.stopping) return;
    const known = this.dirty.get(key);
    if (known) {
      if (urgent && !known.urgent) {
        known.urgent = true;
        if (this.waiting.delete(key)) this.urgent.add(key);
      }
      return;
    }
    this.dirty.set(key, { at: this.timers.now(), urgent });
    if (this.processing.has(key)) return;
    this.lane(urgent).add(key);
    this.pump();
  }

  /** Where a key waits. */
  private lane(urgent: boolean): Set<string> {
    return urgent ? this.urgent : this.waiting;
  }

  /** Adds the key after `ms`; of several pending delays for one key the earliest wins. */
  addAfter(key: string, ms: number): void {
    if (this.stopping) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.timers.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    if (existing) this.timers.clearTimeout(existing.handle);
    const handle = this.timers.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, handle });
  }

  /** Lets the workers take the keys held so far (a queue made paused), and those added later. */
  start(): void {
    this.paused = false;
    this.pump();
  }

  /** Stops taking work, drops delayed keys, and resolves once every key in flight is done. */
  shutdown(): Promise<void> {
    this.stopping = true;
    for (const { handle } of this.delayed.values()) this.timers.clearTimeout(handle);
    this.delayed.clear();
    this.urgent.clear();
    this.waiting.clear();
    this.dirty.clear();
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.idle = resolve;
    });
  }

  private pump(): void {
    while (!this.stopping && !this.paused && this.processing.size < this.options.workers && this.depth > 0) {
      const lane = this.lane(this.urgent.size > 0);
      const key = lane.values().next().value!;
      lane.delete(key);
      const addedAt = this.dirty.get(key)?.at ?? this.timers.now();
      this.dirty.delete(key);
      this.processing.add(key);
      this.options.onPickup?.(key, this.timers.now() - addedAt);
      void this.run(key, addedAt);
    }
  }

  private async run(key: string, queuedAt: number): Promise<void> {
    try {
      const result = await this.options.process(key, queuedAt);
      this.failures.delete(key);
      if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      const count = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, count);
      const delay = Math.min(this.baseDelayMs * 2 ** (count - 1), this.maxDelayMs);
      this.options.onError?.(key, err, delay);
      this.addAfter(key, delay);
    } finally {
      this.processing.delete(key);
      const again = this.dirty.get(key);
      if (again) this.lane(again.urgent).add(key);
      if (this.stopping && this.processing.size === 0) this.idle?.();
      this.pump();
    }
  }
}

// Under load, a process that handles each watch event and each answer as it arrives wakes up once
// for each, and on a busy node most of that CPU is the waking itself, not the work: a process whose
// caches the apiserver and etcd have just used (bench/README.md, make scale). A WakeupBatcher is told
// of each event and answer handled; while they come faster than `minPerSecond`, it sleeps
// `windowMs` after each burst, so that what arrives meanwhile waits in the socket buffers and is
// handled in the event loop's next turn: one wakeup for many. Below that rate it does nothing, and a
// quiet process answers as soon as it can. The sleep blocks the thread (Atomics.wait): nothing of
// the process runs during it, timers included, which is the point.

export interface WakeupBatching {
  /** How long to sleep after a burst; 0 never sleeps. */
  windowMs: number;
  /** Events and answers a second from which on bursts are followed by a sleep. */
  minPerSecond: number;
}

export interface WakeupClock {
  now(): number;
  sleep(ms: number): void;
  /** Runs `fn` once the event loop has handled the I/O that is ready now. */
  afterIo(fn: () => void): void;
}

const cell = new Int32Array(new SharedArrayBuffer(4));

export const realClock: WakeupClock = {
  now: () => performance.now(),
  sleep: (ms) => {
    Atomics.wait(cell, 0, 0, ms);
  },
  afterIo: (fn) => setImmediate(fn),
};

/** How long the rate is counted over before it is judged again. */
const RATE_WINDOW_MS = 1000;

export class WakeupBatcher {
  private settings: WakeupBatching = { windowMs: 0, minPerSecond: 0 };
  private countedSince = -Infinity;
  private counted = 0;
  private busy = false;
  private sleepQueued = false;

  constructor(private readonly clock: WakeupClock = realClock) {}

  configure(settings: WakeupBatching): void {
    this.settings = settings;
  }

  /** One watch event or answer was handled. */
  handled(): void {
    const { windowMs, minPerSecond } = this.settings;
    if (windowMs <= 0) return;
    this.counted++;
    if (this.sleepQueued) return;
    const now = this.clock.now();
    const elapsed = now - this.countedSince;
    if (elapsed >= RATE_WINDOW_MS) {
      this.busy = (this.counted * 1000) / elapsed >= minPerSecond;
      this.countedSince = now;
      this.counted = 0;
    }
    if (!this.busy) return;
    this.sleepQueued = true;
    this.clock.afterIo(() => {
      this.sleepQueued = false;
      this.clock.sleep(windowMs);
    });
  }
}

/** The process's own: the controller configures it (SCRIPTRUN_BATCH_*); the API leaves it off. */
export const wakeups = new WakeupBatcher();

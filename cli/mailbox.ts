// A queue between callbacks (a watch, a timer) and the one loop that takes from it: values in the
// order they were put, or the first failure once the values before it are taken.
export class Mailbox<T> {
  private readonly values: T[] = [];
  private failure: { err: unknown } | undefined;
  private wake: (() => void) | undefined;

  put(value: T): void {
    this.values.push(value);
    this.wake?.();
  }

  fail(err: unknown): void {
    this.failure ??= { err };
    this.wake?.();
  }

  /** The next value; "stopped" once `signal` fires; throws the failure when one came. */
  async take(signal: AbortSignal): Promise<T | "stopped"> {
    for (;;) {
      if (signal.aborted) return "stopped";
      if (this.values.length > 0) return this.values.shift() as T;
      if (this.failure) throw this.failure.err;
      let onAbort!: () => void;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        onAbort = resolve;
        signal.addEventListener("abort", onAbort, { once: true });
      });
      signal.removeEventListener("abort", onAbort);
      this.wake = undefined;
    }
  }
}

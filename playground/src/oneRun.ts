// The Run button's run: one at a time, from the moment Run is pressed until its outcome (or the
// failure to start it) shows. The disabled button does not stop Ctrl+Enter (the editor's key
// binding, the page's), so a press while POST /runs is still on its way must start nothing: it would
// start a second run, and the first one's outcome would never be shown.

export class OneRun<T> {
  private state: { starting: true } | { waitingFor: T } | undefined;

  /** Whether a run is being started or waited for: Run starts nothing now. */
  get busy(): boolean {
    return this.state !== undefined;
  }

  /** The run waited for; undefined when none is, or while it is still being started. */
  get waitingFor(): T | undefined {
    return this.state && "waitingFor" in this.state ? this.state.waitingFor : undefined;
  }

  /** Starts a run with `begin` and waits for what it gives; undefined, and `begin` not called, while
   * busy. Free again when `begin` fails (its error is thrown). */
  async start(begin: () => Promise<T>): Promise<T | undefined> {
    if (this.state) return undefined;
    this.state = { starting: true };
    try {
      const waitingFor = await begin();
      this.state = { waitingFor };
      return waitingFor;
    } catch (err) {
      this.state = undefined;
      throw err;
    }
  }

  /** Its outcome showed: Run may start another. */
  finish(): void {
    this.state = undefined;
  }
}

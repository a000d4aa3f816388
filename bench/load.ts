// Driving a path: a fixed number of runs with a fixed number in flight, or as many as a fixed
// number of clients get through in a given time (closed loop: each client sends its next run
// as soon as its last one is answered).

/** Runs `once` `n` times with at most `concurrency` at once; the results in the order they ended. */
export async function runBatch<T>(n: number, concurrency: number, once: () => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  let started = 0;
  const client = async () => {
    while (started < n) {
      started++;
      results.push(await once());
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, client));
  return results;
}

export interface Sustained<T> {
  results: T[];
  /** From the first run sent until the last one answered. */
  elapsedMs: number;
}

/** `clients` clients each running `once` back to back, starting new runs for `ms`; the runs in
 * flight at the end are waited for and counted. */
export async function runFor<T>(ms: number, clients: number, once: () => Promise<T>): Promise<Sustained<T>> {
  const results: T[] = [];
  const start = performance.now();
  const client = async () => {
    while (performance.now() - start < ms) results.push(await once());
  };
  await Promise.all(Array.from({ length: clients }, client));
  return { results, elapsedMs: performance.now() - start };
}

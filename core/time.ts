// Kubernetes timestamps as the controller and the API meet them: a Date from a list, a string
// from a watch, whole seconds in RFC 3339 when written; and a deadline on a promise.

/** Milliseconds of a timestamp that arrived as a Date (list) or a string (watch). */
export function toMillis(time: Date | string | undefined | null): number | undefined {
  if (time === undefined || time === null) return undefined;
  const ms = new Date(time).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** What `promise` settles to, or a failure ("no WHAT within MS ms") when it has not settled within
 * `ms`. The promise itself goes on: a caller whose result comes late disposes of it. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

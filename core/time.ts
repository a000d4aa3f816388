// Kubernetes timestamps as the controller and the API meet them: a Date from a list, a string
// from a watch, whole seconds in RFC 3339 when written.

/** Milliseconds of a timestamp that arrived as a Date (list) or a string (watch). */
export function toMillis(time: Date | string | undefined | null): number | undefined {
  if (time === undefined || time === null) return undefined;
  const ms = new Date(time).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

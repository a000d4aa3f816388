// What both processes know of a ScriptRun beyond its schema: its key (`namespace/name`, the work
// queue's and the waiters'), and the annotation that asks for its cancellation.
/** Annotation that asks the controller to cancel a run: stop its pod and fail it as `cancelled`.
 * The API's DELETE /runs/:name sets it; so can `kubectl annotate sr NAME scriptrun.dev/cancel-requested=true`. */
export const CANCEL_ANNOTATION = "scriptrun.dev/cancel-requested";

export function runKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function parseKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf("/");
  if (slash <= 0 || slash === key.length - 1) throw new Error(`'${key}' is not a namespace/name key`);
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** The key of a ScriptRun (or of any namespaced object). */
export function keyOf(obj: { metadata?: { namespace?: string; name?: string } }): string {
  return runKey(obj.metadata?.namespace ?? "", obj.metadata?.name ?? "");
}

export function cancelRequested(obj: { metadata?: { annotations?: Record<string, string> } }): boolean {
  return obj.metadata?.annotations?.[CANCEL_ANNOTATION] === "true";
}

// Small helpers for calls to the Kubernetes API through client-node, shared by both processes.
// Errors are client-node's ApiException, whose `.code` is the HTTP status.
import { ApiException, type ConfigurationOptions, Observable, type ObservableMiddleware } from "@kubernetes/client-node";
import { GROUP, PLURAL, VERSION } from "../crds/schema.js";

/** Where ScriptRuns live in the Kubernetes API, as client-node's CustomObjectsApi takes it. */
export const RUNS = { group: GROUP, version: VERSION, plural: PLURAL } as const;

/** The URL path of ScriptRuns in one namespace, or in all (for informers). */
export function runsPath(namespace?: string): string {
  return `/apis/${GROUP}/${VERSION}${namespace ? `/namespaces/${namespace}` : ""}/${PLURAL}`;
}

export function statusCode(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const fields = err as { code?: unknown; statusCode?: unknown } | null;
  const code = fields?.code ?? fields?.statusCode;
  return typeof code === "number" ? code : undefined;
}

/** The call's answer, or `fallback` when it fails with one of `codes`. */
export async function unless<T, F = T>(codes: number[], call: Promise<T>, fallback: F): Promise<T | F> {
  try {
    return await call;
  } catch (err) {
    if (codes.includes(statusCode(err) ?? 0)) return fallback;
    throw err;
  }
}

/** Per-call options that abort the request after `ms` (the error is node-fetch's AbortError). */
export function within(ms: number): ConfigurationOptions<ObservableMiddleware> {
  return {
    middleware: [{
      pre: (request) => {
        request.setSignal(AbortSignal.timeout(ms));
        return new Observable(Promise.resolve(request));
      },
      post: (response) => new Observable(Promise.resolve(response)),
    }],
    middlewareMergeStrategy: "append",
  };
}

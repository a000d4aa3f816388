// Builders shared by unit tests: envelopes and errors as the harness writes them, runtimes and
// their limits as the cluster would hold them, and a kubeconfig for a test's own apiserver.
import { KubeConfig } from "@kubernetes/client-node";
import { DEFAULT_RUNTIME_ANNOTATION, type ScriptRuntime, type ScriptRuntimeSpec } from "../crds/runtime.js";
import { API_VERSION } from "../crds/schema.js";
import type { RequestLimits } from "./request.js";
import { parseRuntime, runtimeLimits } from "./runtime.js";
import { StaticRuntimes } from "./runtimeCatalog.js";

export function envelope(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    success: true, result: 1, stdout: "", stderr: "", stdoutTruncated: false, stderrTruncated: false,
    error: null, exitCode: 0, durationMs: 42, sandbox: { backend: "bubblewrap", memory: "cgroup" }, ...fields,
  };
}

export function harnessError(type: string, message: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { type, message, line: null, traceback: null, suggestions: [], availableFunctions: [], ...fields };
}

type SpecInput = Omit<Partial<ScriptRuntimeSpec>, "defaults" | "maxima" | "pod"> & {
  defaults?: Partial<ScriptRuntimeSpec["defaults"]>;
  maxima?: Partial<ScriptRuntimeSpec["maxima"]>;
  pod?: Partial<ScriptRuntimeSpec["pod"]>;
};

/** A ScriptRuntime as the apiserver returns it: default unless told otherwise, image the local test image. */
export function aRuntime(name = "python", spec: SpecInput = {}, options: { isDefault?: boolean; generation?: number } = {}): ScriptRuntime {
  return {
    apiVersion: API_VERSION,
    kind: "ScriptRuntime",
    metadata: {
      name,
      uid: `uid-runtime-${name}`,
      generation: options.generation ?? 1,
      ...((options.isDefault ?? name === "python") ? { annotations: { [DEFAULT_RUNTIME_ANNOTATION]: "true" } } : {}),
    },
    spec: { image: "localhost/scriptrun/runner:test", ...spec },
  };
}

/** The default runtime `python` alone, or the runtimes given. */
export function testRuntimes(...runtimes: ScriptRuntime[]): StaticRuntimes {
  return new StaticRuntimes(runtimes.length > 0 ? runtimes : [aRuntime()]);
}

/** The request limits of a runtime of `spec`, with the default script-size cap. */
export function testLimits(spec: SpecInput = {}, maxScriptBytes = 256 * 1024): RequestLimits {
  const parsed = parseRuntime(aRuntime("python", spec));
  if (!parsed.ok) throw new Error(parsed.problems.join("; "));
  return runtimeLimits(parsed.runtime, maxScriptBytes);
}

/** A kubeconfig for an apiserver a test serves at `server`, with a bearer token; over https, the
 * server's certificate is checked against `ca` when given. */
export function kubeConfigFor(server: string, ca?: Buffer): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "test", server, ...(ca ? { caData: ca.toString("base64"), skipTLSVerify: false } : { skipTLSVerify: true }) }],
    users: [{ name: "test", token: "test-token" }],
    contexts: [{ name: "test", cluster: "test", user: "test" }],
    currentContext: "test",
  });
  return kc;
}

// Builders shared by unit tests: envelopes and errors as the harness writes them, runtimes and
// their limits as the cluster would hold them, and a kubeconfig for a test's own apiserver, over
// HTTPS when it is a selfSignedServer.
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { type Server, createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

/** An HTTPS server on loopback with a certificate of its own, which `ca` trusts. Its key is an EC
 * one: an RSA key took openssl up to seconds to make on a busy machine, past mocha's timeout. */
export async function selfSignedServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string; ca: Buffer }> {
  const dir = mkdtempSync(join(tmpdir(), "kept-agent-"));
  let server: Server;
  let ca: Buffer;
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
      "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
    ca = readFileSync(join(dir, "cert.pem"));
    server = createServer({ key: readFileSync(join(dir, "key.pem")), cert: ca }, handler);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/`, ca };
}

// The command line's failures and the exit codes they end with: 1 the script failed (or what was
// asked could not be done: no such run, not allowed, nothing to cancel), 2 bad usage (including a
// request the cluster or the API refused as invalid, and a run the controller failed as
// invalid_input), 3 the cluster or the API could not be reached (or there is no kubeconfig to reach
// the cluster with); 130 a wait stopped by Ctrl-C.
import { ApiException } from "@kubernetes/client-node";
import { statusMessage } from "../core/kube.js";

export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3, interrupted: 130 } as const;

export class CliError extends Error {
  constructor(message: string, readonly exitCode: number, options?: ErrorOptions) {
    super(message, options);
  }
}

export const usage = (message: string) => new CliError(message, EXIT.usage);
export const failed = (message: string) => new CliError(message, EXIT.failed);
export const unreachable = (message: string) => new CliError(message, EXIT.unreachable);

// What node-fetch (client-node) and undici (fetch) report when nothing answers.
const CONNECTION_CODES = new Set([
  "ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE",
  "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_SOCKET", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT",
]);

/** `err` and the errors it was made from (`cause`), outermost first. */
function* chain(err: unknown): Generator<{ name?: unknown; code?: unknown }> {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) yield e as { name?: unknown; code?: unknown };
}

/** True when `err` says the other end could not be reached or did not answer in time. */
export function isUnreachable(err: unknown): boolean {
  for (const { name, code } of chain(err)) {
    if (name === "AbortError" || name === "TimeoutError" || name === "FetchError") return true;
    if (typeof code === "string" && CONNECTION_CODES.has(code)) return true;
  }
  return false;
}

// Codes of a connection never made: no request left this process.
const NEVER_CONNECTED = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT"]);

/** True when `err`, or what it was made from, says the connection was never made, so nothing was sent. */
export function neverConnected(err: unknown): boolean {
  for (const { code } of chain(err)) if (typeof code === "string" && NEVER_CONNECTED.has(code)) return true;
  return false;
}

/** True when a call that failed with `err` may well work if made again: the apiserver could not be
 * reached, was too busy (429) or failed on its side (5xx). */
export function isTransient(err: unknown): boolean {
  if (err instanceof ApiException) return err.code === 429 || err.code >= 500;
  return isUnreachable(err);
}

/** How an HTTP status (the apiserver's or the API's) ends the command. */
export function exitForStatus(status: number): number {
  if (status === 400 || status === 413 || status === 415 || status === 422) return EXIT.usage;
  if (status === 502 || status === 503 || status === 504) return EXIT.unreachable;
  return EXIT.failed;
}

/** A failure of a call to `where` as the CliError it deserves; CliErrors pass as they are. */
export function asCliError(err: unknown, where: string): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof ApiException) return new CliError(`${where} answered ${err.code}: ${statusMessage(err)}`, exitForStatus(err.code));
  if (isUnreachable(err)) return new CliError(`Could not reach ${where}: ${describe(err)}`, EXIT.unreachable, { cause: err });
  // fetch never connects to the ports the Fetch standard keeps for other protocols (1, 22, 25…).
  if (causes(err).includes("bad port")) {
    return usage(`fetch will not connect to ${where}: its port is one the Fetch standard keeps for another protocol. Serve the API on another port`);
  }
  return failed(describe(err));
}

/** The messages of `err` and of its causes, outermost first, each once. */
function causes(err: unknown): string[] {
  const messages: string[] = [];
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    const message = e instanceof Error ? e.message : String(e);
    if (message && !messages.includes(message)) messages.push(message);
    if (!(e instanceof Error)) break;
  }
  return messages;
}

const describe = (err: unknown): string => causes(err).join(": ");

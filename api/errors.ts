// One JSON error shape for every failure, `{error: {type, message, issues?, name?, namespace?}}`,
// and the middleware (mounted first) that maps whatever was thrown to it: our own ApiErrors,
// zod's issues (400, or 413 for a script above the size cap), the body parsers' errors, the
// router's 404/405, and the Kubernetes client's errors (503 when the cluster does not answer).
import { ApiException, FetchError } from "@kubernetes/client-node";
import type { Context, Next } from "koa";
import { MulterError } from "multer";
import { ZodError, type ZodType } from "zod";
import { CallTimeout, statusBody, statusMessage } from "../core/kube.js";
import type { Logger } from "../core/log.js";
import { PreflightError } from "../core/preflight.js";

export interface Issue {
  path: Array<string | number>;
  message: string;
  code?: string;
}

export interface ErrorBody {
  type: string;
  message: string;
  issues?: Issue[];
  name?: string;
  namespace?: string;
}

/** Seconds a client is asked to wait before retrying a 429 or 503. */
export const RETRY_AFTER_SECONDS = 2;

export class ApiError extends Error {
  constructor(readonly status: number, readonly type: string, message: string,
    readonly extra: Omit<ErrorBody, "type" | "message"> = {}, readonly headers: Record<string, string> = {}) {
    super(message);
  }

  get body(): ErrorBody {
    return { type: this.type, message: this.message, ...this.extra };
  }
}

export const invalid = (message: string, issues?: Issue[]) =>
  new ApiError(400, "invalid_input", message, issues ? { issues } : {});
export const notFound = (message: string, at: { name?: string; namespace?: string } = {}) =>
  new ApiError(404, "not_found", message, at);
export const unavailable = (message: string, at: { name?: string; namespace?: string } = {}) =>
  new ApiError(503, "cluster_unavailable", message, at, { "Retry-After": String(RETRY_AFTER_SECONDS) });

// Fields whose size the operator caps; above the cap the request is too large, not malformed.
const SIZED_FIELDS = new Set(["script", "code", "stdin"]);

/** zod's issues as the error shape lists them. */
function issuesOf(err: ZodError) {
  return err.issues.map((i) => ({ path: i.path.map((p) => (typeof p === "symbol" ? String(p) : p)), message: i.message, code: i.code }));
}

/** Query parameters as `schema` reads them: 400 naming them as query parameters, not the body. */
export function parseQuery<T>(schema: ZodType<T>, query: unknown): T {
  const parsed = schema.safeParse(query);
  if (parsed.success) return parsed.data;
  const issues = issuesOf(parsed.error);
  const summary = issues.map((i) => `${i.path.length > 0 ? `query parameter ${i.path.join(".")}` : "query"}: ${i.message}`).join("; ");
  throw new ApiError(400, "invalid_input", summary, { issues });
}

function fromZod(err: ZodError): ApiError {
  const issues = issuesOf(err);
  const summary = issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
  const tooLarge = err.issues.some((i) => i.code === "too_big" && SIZED_FIELDS.has(String(i.path[0])));
  return tooLarge
    ? new ApiError(413, "too_large", summary, { issues })
    : new ApiError(400, "invalid_input", summary, { issues });
}

const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE"]);

/** Whether the apiserver refused a create because its namespace does not exist (a 404 whose Status
 * names a namespace, not the resource: the CRD missing is the cluster's fault, not the request's). */
export function namespaceMissing(err: unknown): boolean {
  return err instanceof ApiException && err.code === 404 && statusBody(err)?.details?.kind === "namespaces";
}

/** What the apiserver's bare 404 means to this API: every other resource it reads is Kubernetes'
 * own, and the apiserver answers a missing object of any kind with a Status body. (client-node's
 * log reader throws a 404 with no body at all for a missing pod: that one is not_found.) */
export const RESOURCES_NOT_SERVED = "The cluster does not serve ScriptRuns (scriptrun.dev/v1alpha1); its Kubernetes API answered " +
  "\"404 page not found\". Install the operator's CRDs (kubectl apply -f crds/, or the Helm chart)";

/** A Kubernetes client failure as the HTTP answer it deserves, or undefined when it is not one. */
export function fromCluster(err: unknown): ApiError | undefined {
  if (err instanceof ApiException) {
    const message = statusMessage(err);
    // A body, but no Status: the path itself is unknown to the apiserver, as when the CRDs are not installed.
    if (err.code === 404 && typeof err.body === "string" && err.body !== "" && statusBody(err) === undefined) return unavailable(RESOURCES_NOT_SERVED);
    if (err.code === 404) return notFound(message);
    if (err.code === 409) return new ApiError(409, "conflict", message);
    if (err.code === 410) return invalid(`${message}; list again without a continue token`);
    if (err.code === 400 || err.code === 422) return invalid(`The cluster refused the request: ${message}`);
    return unavailable(`The Kubernetes API answered ${err.code}: ${message}`);
  }
  if (err instanceof CallTimeout && !err.sent) return unavailable(err.message);
  if ((err as { name?: unknown } | null)?.name === "AbortError") return unavailable("The Kubernetes API did not answer in time");
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof FetchError || (typeof code === "string" && CONNECTION_CODES.has(code))) {
    return unavailable(`The Kubernetes API is unreachable: ${(err as Error).message}`);
  }
  return undefined;
}

// Failures after which a write may have been made all the same: no answer within the timeout, the
// connection lost with the request sent, or the apiserver's own 500 or 504 ("may still be
// processing the request"). A refused connection, an unknown host, a 429 or a call that timed out
// still waiting for a connection made nothing.
const CUT_SHORT_CODES = new Set(["ECONNRESET", "EPIPE", "ETIMEDOUT"]);

/** Whether a create that failed with `err` may have created its object. */
export function mayHaveLanded(err: unknown): boolean {
  if (err instanceof ApiException) return err.code === 500 || err.code === 504;
  if (err instanceof CallTimeout) return err.sent;
  if ((err as { name?: unknown } | null)?.name === "AbortError") return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && CUT_SHORT_CODES.has(code);
}

export function bodyTooLarge(maxBodyBytes: number): ApiError {
  return new ApiError(413, "too_large", `The body is larger than the ${maxBodyBytes} bytes allowed`);
}

// multer's limits on size; its others (fields, parts, a field name's length) are on a form's shape.
const SIZE_LIMITS = new Set(["LIMIT_FILE_SIZE", "LIMIT_FIELD_VALUE"]);

/** What the body parsers (co-body/raw-body, multer) throw. */
function fromHttp(err: unknown, maxBodyBytes: number): ApiError | undefined {
  if (err instanceof MulterError) {
    const field = err.field ? ` (${err.field})` : "";
    if (SIZE_LIMITS.has(err.code)) return new ApiError(413, "too_large", `${err.message}${field}; the body may be at most ${maxBodyBytes} bytes`);
    if (err.code === "LIMIT_UNEXPECTED_FILE") return invalid(`Unexpected file field '${err.field}'; send the script as 'file'`);
    if (err.code === "LIMIT_FILE_COUNT") return invalid("Send one file, as 'file'");
    return invalid(`${err.message}${field}; a form takes the fields of the JSON body, each once, and the script as 'file'`);
  }
  const fields = err as { status?: unknown; message?: unknown } | null;
  const status = typeof fields?.status === "number" ? fields.status : undefined;
  if (status === undefined || status >= 500) return undefined;
  const message = typeof fields?.message === "string" ? fields.message : "Bad request";
  if (status === 413) return bodyTooLarge(maxBodyBytes);
  if (status === 415) return new ApiError(415, "unsupported_media_type", message);
  // co-body's JSON syntax errors, a body cut short, a bad Content-Length.
  return invalid(err instanceof SyntaxError ? `The body is not valid JSON: ${message}` : message);
}

export function toApiError(err: unknown, maxBodyBytes: number): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof ZodError) return fromZod(err);
  if (err instanceof PreflightError) {
    return new ApiError(503, "preflight_unavailable", err.message, {}, { "Retry-After": String(RETRY_AFTER_SECONDS) });
  }
  return fromCluster(err) ?? fromHttp(err, maxBodyBytes);
}

/** Mounted first: every failure below it becomes the one JSON error shape. */
export function errorHandler(log: Logger, maxBodyBytes: number) {
  return async function errors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
      if (ctx.body === undefined && ctx.status === 404) throw notFound(`No route for ${ctx.method} ${ctx.path}`);
      if (ctx.body === undefined && (ctx.status === 405 || ctx.status === 501)) {
        throw new ApiError(405, "method_not_allowed", `${ctx.method} is not allowed on ${ctx.path}; allowed: ${ctx.response.get("Allow")}`);
      }
    } catch (err) {
      const known = toApiError(err, maxBodyBytes);
      const answer = known ?? new ApiError(500, "internal", "The API failed; the request id in X-Request-Id finds it in the logs");
      if (!known) log.error({ err, requestId: ctx.state.requestId, route: ctx.path }, "Failed to answer a request");
      else if (answer.status >= 500) log.warn({ type: answer.type, reason: answer.message, requestId: ctx.state.requestId }, "Answered with a server error");
      ctx.status = answer.status;
      ctx.set(answer.headers);
      ctx.body = { error: answer.body };
    }
  };
}

// A client that goes away mid-answer (an event stream closed, a hang-up) is no failure of ours.
const HANG_UPS = new Set(["ERR_STREAM_PREMATURE_CLOSE", "ECONNRESET", "EPIPE"]);

/** Koa's "error" event: what went wrong after the answer had started, where no middleware can see it. */
export function afterAnswerErrors(log: Logger) {
  return (err: Error & { code?: string }, ctx?: Context): void => {
    if (err.code !== undefined && HANG_UPS.has(err.code)) return;
    log.warn({ err, requestId: ctx?.state.requestId }, "Failed while writing an answer");
  };
}

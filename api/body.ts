// Reading a run request's body: JSON, or multipart/form-data with the script as a `file` part and
// the other fields as text parts (JSON-valued ones as JSON text). Anything else is 415; bodies
// past the configured size are 413 before they are read whole.
import type { IncomingMessage, ServerResponse } from "node:http";
import { bodyParser } from "@koa/bodyparser";
import type { Context, Middleware, Next } from "koa";
import multer from "multer";
import { firstInexactNumber, inexactNumberReason } from "../core/exactJson.js";
import { ApiError, bodyTooLarge, invalid } from "./errors.js";

const JSON_TYPE = "application/json";
const FORM_TYPE = "multipart/form-data";
/** Form fields whose text is JSON, and those that are numbers. */
export const JSON_FIELDS = new Set(["args", "kwargs", "params", "resources"]);
const NUMBER_FIELDS = new Set(["timeoutSeconds", "waitSeconds"]);
const MAX_FORM_FIELDS = 20;

type NodeHandler = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;
type UploadedRequest = IncomingMessage & { body?: Record<string, unknown>; file?: { buffer: Buffer } };

/** 400 for query parameters: a run request is its body alone, namespace included. */
async function refuseQuery(ctx: Context, next: Next): Promise<void> {
  const names = Object.keys(ctx.query);
  if (names.length > 0) {
    throw invalid(`${ctx.method} ${ctx.path} takes no query parameters (${names.join(", ")}); give the run's fields, namespace among them, in the body`,
      names.map((name) => ({ path: [name], message: "not a query parameter here" })));
  }
  await next();
}

/** 415 unless the body is JSON or form data. */
async function requireBodyType(ctx: Context, next: Next): Promise<void> {
  if (!ctx.is(JSON_TYPE, FORM_TYPE)) {
    const given = ctx.get("Content-Type") || "none";
    throw new ApiError(415, "unsupported_media_type", `Content-Type ${given} is not accepted; send ${JSON_TYPE} or ${FORM_TYPE}`);
  }
  await next();
}

/** 400 when JSON text holds a number that parsing it here has changed. */
function refuseInexactNumbers(text: string, path: string[]): void {
  const literal = firstInexactNumber(text);
  if (literal === undefined) return;
  const reason = inexactNumberReason(literal);
  throw invalid(`${path.length > 0 ? `Form field ${path.join(".")}` : "The body"}: ${reason}`, [{ path, message: reason }]);
}

/**
 * The JSON body, read as text by the body parser, parsed as JSON.parse parses: a member named
 * `__proto__` is data like any other (co-body's own JSON parsing refuses the whole body for it, and
 * takes no option to keep it). 400 when it is not JSON, or holds a number parsing it has changed.
 */
async function parseJson(ctx: Context, next: Next): Promise<void> {
  if (ctx.is(JSON_TYPE)) {
    const text = ctx.request.rawBody;
    try {
      ctx.request.body = JSON.parse(text) as unknown;
    } catch (err) {
      throw invalid(text.trim() === "" ? "The body is empty; send a JSON object" : `The body is not valid JSON: ${(err as Error).message}`);
    }
    refuseInexactNumbers(text, []);
  }
  await next();
}

/** A form's text fields as the JSON body they stand for. */
export function formToBody(fields: Record<string, unknown>, file: Buffer | undefined): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    // multer makes a list of a name given more than once, and an object of names with brackets (a[b]).
    if (Array.isArray(value)) throw invalid(`Form field ${name} was given more than once`, [{ path: [name], message: "given more than once" }]);
    if (typeof value !== "string") {
      throw invalid(`Form field ${name}[...]: a field's name is one of the body's fields, without brackets; send ${name} as JSON text`,
        [{ path: [name], message: "a field name with brackets" }]);
    }
    if (JSON_FIELDS.has(name)) {
      try {
        body[name] = JSON.parse(value) as unknown;
      } catch {
        throw invalid(`Form field ${name} must be JSON text`, [{ path: [name], message: "must be JSON text" }]);
      }
      refuseInexactNumbers(value, [name]);
    } else if (NUMBER_FIELDS.has(name) && /^-?\d+(\.\d+)?$/.test(value.trim())) {
      body[name] = Number(value);
    } else {
      body[name] = value;
    }
  }
  if (file !== undefined) {
    if (body.script !== undefined || body.code !== undefined) {
      throw invalid("Give the script as the file or as a field, not both", [{ path: ["file"], message: "script given twice" }]);
    }
    try {
      body.script = new TextDecoder("utf-8", { fatal: true }).decode(file);
    } catch {
      throw invalid("The file is not UTF-8 text", [{ path: ["file"], message: "not UTF-8 text" }]);
    }
  }
  return body;
}

/** Middleware that leaves the request's JSON body, or its form as one, in ctx.request.body. */
export function readRunBody(maxBodyBytes: number): Middleware[] {
  const json = bodyParser({ enableTypes: ["text"], extendTypes: { text: [JSON_TYPE] }, textLimit: maxBodyBytes, encoding: "utf-8" });
  const upload = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: maxBodyBytes, fieldSize: maxBodyBytes, files: 1, fields: MAX_FORM_FIELDS, parts: MAX_FORM_FIELDS + 1 },
  }).single("file") as unknown as NodeHandler;
  const form = async (ctx: Context, next: Next): Promise<void> => {
    if (!ctx.is(FORM_TYPE)) return next();
    // multer caps each part; the form as a whole is capped here, by its declared length and, for
    // one sent without a length, by the bytes that arrive.
    if (Number(ctx.get("Content-Length") || 0) > maxBodyBytes) throw bodyTooLarge(maxBodyBytes);
    const req = ctx.req as UploadedRequest;
    await new Promise<void>((resolve, reject) => {
      let received = 0;
      const count = (chunk: Buffer) => {
        received += chunk.length;
        if (received <= maxBodyBytes) return;
        // The rest is read and dropped, as Node drops a body refused by its length: a client that
        // sends it all before reading sees the 413, and the connection can carry the next request.
        req.off("data", count);
        req.unpipe();
        req.resume();
        reject(bodyTooLarge(maxBodyBytes));
      };
      upload(req, ctx.res, (err) => {
        req.off("data", count);
        if (err) reject(err);
        else resolve();
      });
      // After multer has piped the request to busboy: this listener only counts.
      req.on("data", count);
    }).catch((err: unknown) => {
      // busboy's own complaints (a malformed form) carry no status: they are the client's.
      if (err instanceof multer.MulterError || err instanceof ApiError) throw err;
      throw invalid(`The form could not be read: ${(err as Error).message}`);
    });
    ctx.request.body = formToBody(req.body ?? {}, req.file?.buffer);
    await next();
  };
  return [refuseQuery, requireBodyType, json, parseJson, form];
}

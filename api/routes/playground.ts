// The playground page: GET / answers playground/index.html and GET /static/FILE the bundle
// playground/build.ts wrote beside it (SCRIPTRUN_API_PLAYGROUND_DIR, by default dist/public of the
// package), read at each request so a rebuild shows at the next reload. Open to anyone, as the
// page holds no data: what it shows comes from the API routes, with the caller's token.
//
// Every answer carries a Content-Security-Policy that lets the page run only its own script and
// talk only to this origin: what a script printed is untrusted text, and even a mistake that put it
// into the page as markup could not run as code. These routes are not API operations, so the
// OpenAPI document leaves them out.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import Router, { type RouterContext } from "@koa/router";
import { notFound } from "../errors.js";
import type { ApiState, Services } from "../services.js";

// CodeMirror styles the editor through constructed style sheets (CSSOM), which style-src 'self' allows.
export const PLAYGROUND_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self' data:",
  "font-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join("; ");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};
// A plain file name of the bundle: no directories, no dot files.
const FILE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

async function serve(ctx: RouterContext<ApiState>, dir: string, file: string, missing: string): Promise<void> {
  let body: Buffer;
  try {
    body = await readFile(join(dir, file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw notFound(missing);
    throw err;
  }
  ctx.set({
    "Content-Security-Policy": PLAYGROUND_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    // Asked again each time, answered 304 while unchanged: a rebuilt bundle is never stale.
    "Cache-Control": "no-cache",
    ETag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 32)}"`,
  });
  ctx.type = TYPES[extname(file)]!;
  ctx.status = 200;
  if (ctx.fresh) {
    ctx.status = 304;
    return;
  }
  ctx.body = body;
}

export function playgroundRouter(deps: Services): Router<ApiState> {
  const router = new Router<ApiState>();
  const dir = deps.config.playgroundDir;

  router.get("/", (ctx) => serve(ctx, dir, "index.html",
    `The playground page is not built in ${dir}: run npm run build (it bundles playground/ into dist/public)`));

  router.get("/static/:file", (ctx) => {
    const file = ctx.params.file ?? "";
    if (!FILE.test(file) || TYPES[extname(file)] === undefined) throw notFound(`No file ${file} in the playground`);
    return serve(ctx, dir, file, `No file ${file} in the playground`);
  });

  return router;
}

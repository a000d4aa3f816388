// Requests a browser sends on a web page's behalf, which the user never meant for this API: a
// form or fetch from another site posting a run (cross-site request forgery), and a page whose
// own host name was pointed at 127.0.0.1 after it loaded (DNS rebinding), which then reads runs as
// if it were same-origin. With SCRIPTRUN_API_AUTH=kubernetes a browser attaches no bearer token by
// itself, so neither gets past authentication; with auth none, these checks are all that stand
// between any page the developer visits and the cluster.
import type { Context, Next } from "koa";
import { ApiError } from "./errors.js";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\]|::1)$/i;

const refused = (message: string) => new ApiError(403, "forbidden", message);

/** The host (name and port) of an Origin header, or undefined for "null" and garbage. */
function originHost(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

/** Whether a request may change something: a browser's request from another origin may only when
 * that origin is one of SCRIPTRUN_API_CORS_ORIGINS. Requests with neither Sec-Fetch-Site nor
 * Origin come from programs, not pages (curl, the clients), and pass. Sec-Fetch-Site
 * `same-site` is another origin too (another port of localhost). */
export function crossSiteWrites(corsOrigins: string[]) {
  const listed = (origin: string) => corsOrigins.includes("*") || corsOrigins.includes(origin);
  return async function refuseCrossSiteWrites(ctx: Context, next: Next): Promise<void> {
    if (!SAFE_METHODS.has(ctx.method)) {
      const origin = ctx.get("Origin");
      const site = ctx.get("Sec-Fetch-Site").toLowerCase();
      const foreign = site !== "" ? site !== "same-origin" && site !== "none" : origin !== "" && originHost(origin) !== ctx.get("Host");
      if (foreign && !(origin !== "" && listed(origin))) {
        throw refused(`A ${ctx.method} from a page of another origin (${origin || "unnamed"}) is refused: ` +
          "list that origin in SCRIPTRUN_API_CORS_ORIGINS to let its pages call this API");
      }
    }
    await next();
  };
}

/** Whether the API listens on a loopback address only. */
export function listensOnLoopback(host: string): boolean {
  return LOOPBACK_HOST.test(host);
}

/** For an API without authentication on a loopback address: only requests addressed to a loopback
 * name, so a page whose name was rebound to 127.0.0.1 reaches nothing. A request without Host
 * (HTTP/1.0) comes from no browser and passes. */
export function loopbackHostOnly() {
  return async function refuseForeignHost(ctx: Context, next: Next): Promise<void> {
    const host = ctx.get("Host");
    let name: string | undefined;
    try {
      name = host === "" ? undefined : new URL(`http://${host}`).hostname;
    } catch {
      name = "";
    }
    if (name !== undefined && !LOOPBACK_HOST.test(name)) {
      throw refused(`This API has no authentication and listens on a loopback address, so it answers only requests ` +
        `addressed to localhost, 127.0.0.1 or [::1], not to ${JSON.stringify(host)}`);
    }
    await next();
  };
}

// Who may call the API is Kubernetes' decision: the bearer token goes to a TokenReview, and the
// user it names to a SubjectAccessReview for the route's verb on scriptruns in the run's
// namespace. Answers are cached briefly (keyed by a hash of the token, never the token itself), so
// a busy caller costs two reviews per TTL, not two per request. SCRIPTRUN_API_AUTH=none turns it
// all off for local use; main.ts says so loudly at start.
import { createHash } from "node:crypto";
import { AuthenticationV1Api, AuthorizationV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Context, Next } from "koa";
import { GROUP, PLURAL } from "../crds/schema.js";
import { within } from "../core/kube.js";
import { ApiError } from "./errors.js";

/** The verb each route asks for: create (run), get (one run, its events), list, delete (cancel). */
export type Verb = "create" | "get" | "list" | "delete";

export interface User {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface Identity {
  user: User;
  /** sha256 of the bearer token: the cache key, never logged. */
  tokenHash: string;
}

/** The two reviews, as the cluster answers them. */
export interface AccessReviews {
  /** The token's user, or undefined when the cluster does not accept the token. */
  reviewToken(token: string): Promise<User | undefined>;
  reviewAccess(user: User, verb: Verb, namespace: string): Promise<{ allowed: boolean; reason?: string }>;
}

export interface Auth {
  readonly mode: "kubernetes" | "none";
  /** The caller behind an Authorization header; 401 without a valid bearer token. */
  authenticate(authorization: string | undefined): Promise<Identity>;
  /** Resolves when the caller may `verb` scriptruns in `namespace`; 403 otherwise. */
  authorize(identity: Identity, verb: Verb, namespace: string): Promise<void>;
}

const MAX_CACHED = 10_000;

/** Promises kept for `ttlMs`; a rejected one is dropped at once so the next call asks again. */
class TtlCache<T> {
  private readonly entries = new Map<string, { expires: number; value: Promise<T> }>();

  constructor(private readonly ttlMs: number) {}

  get(key: string, load: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.expires > now) return hit.value;
    this.entries.delete(key);
    const value = load();
    if (this.ttlMs > 0) {
      // Map order is insertion order: the first key is the oldest.
      if (this.entries.size >= MAX_CACHED) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(key, { expires: now + this.ttlMs, value });
      value.catch(() => this.entries.delete(key));
    }
    return value;
  }
}

const unauthenticated = (message: string) =>
  new ApiError(401, "unauthenticated", message, {}, { "WWW-Authenticate": 'Bearer realm="scriptrun"' });

export class KubernetesAuth implements Auth {
  readonly mode = "kubernetes" as const;
  private readonly users: TtlCache<User | undefined>;
  private readonly decisions: TtlCache<{ allowed: boolean; reason?: string }>;

  constructor(private readonly reviews: AccessReviews, ttlSeconds: number) {
    this.users = new TtlCache(ttlSeconds * 1000);
    this.decisions = new TtlCache(ttlSeconds * 1000);
  }

  async authenticate(authorization: string | undefined): Promise<Identity> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
    if (!match) throw unauthenticated("Send a Kubernetes bearer token: Authorization: Bearer <token>");
    const token = match[1]!;
    const tokenHash = createHash("sha256").update(token).digest("hex");
    const user = await this.users.get(tokenHash, () => this.reviews.reviewToken(token));
    if (!user) throw unauthenticated("The cluster does not accept this token");
    return { user, tokenHash };
  }

  async authorize(identity: Identity, verb: Verb, namespace: string): Promise<void> {
    const decision = await this.decisions.get(`${identity.tokenHash}|${namespace}|${verb}`,
      () => this.reviews.reviewAccess(identity.user, verb, namespace));
    if (!decision.allowed) {
      throw new ApiError(403, "forbidden", `${identity.user.username} may not ${verb} ${PLURAL}.${GROUP} in namespace ${namespace}` +
        (decision.reason ? `: ${decision.reason}` : ""));
    }
  }
}

/** No authentication: everyone is anonymous and allowed everything. */
export class NoAuth implements Auth {
  readonly mode = "none" as const;

  async authenticate(): Promise<Identity> {
    return { user: { username: "system:anonymous" }, tokenHash: "" };
  }

  async authorize(): Promise<void> {}
}

/** The reviews through client-node, each call bounded by `timeoutMs`. */
export function kubeReviews(kc: KubeConfig, timeoutMs: number): AccessReviews {
  const authn = kc.makeApiClient(AuthenticationV1Api);
  const authz = kc.makeApiClient(AuthorizationV1Api);
  return {
    async reviewToken(token) {
      const review = await authn.createTokenReview({ body: { spec: { token } } }, within(timeoutMs));
      const info = review.status?.user;
      if (!review.status?.authenticated || !info?.username) return undefined;
      return {
        username: info.username,
        ...(info.uid ? { uid: info.uid } : {}),
        ...(info.groups ? { groups: info.groups } : {}),
        ...(info.extra ? { extra: info.extra } : {}),
      };
    },
    async reviewAccess(user, verb, namespace) {
      const review = await authz.createSubjectAccessReview({
        body: {
          spec: {
            user: user.username,
            ...(user.uid ? { uid: user.uid } : {}),
            ...(user.groups ? { groups: user.groups } : {}),
            ...(user.extra ? { extra: user.extra } : {}),
            resourceAttributes: { group: GROUP, resource: PLURAL, verb, namespace },
          },
        },
      }, within(timeoutMs));
      return { allowed: review.status?.allowed === true, ...(review.status?.reason ? { reason: review.status.reason } : {}) };
    },
  };
}

/** Route middleware: 401 unless the caller is authenticated; leaves the identity in ctx.state. */
export function authenticated(auth: Auth) {
  return async function authenticate(ctx: Context, next: Next): Promise<void> {
    ctx.state.identity = await auth.authenticate(ctx.get("Authorization") || undefined);
    await next();
  };
}

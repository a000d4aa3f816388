// The real Koa app, in process and without a cluster, for scripts/fuzz.sh: the unit tests' app
// (api/testkit.ts: the in-memory FakeRunStore and the real preflight server) with Kubernetes-style
// authentication on, through a stand-in for the reviews that knows one fixed bearer token and lets
// its user do everything anywhere. It listens on 127.0.0.1 on a free port, prints
// `LISTENING http://127.0.0.1:PORT` once it does, and closes on SIGTERM or SIGINT.
import { KubernetesAuth, type AccessReviews, type User } from "../../api/auth.js";
import { closePreflight, testApp } from "../../api/testkit.js";

const token = process.env.FUZZ_TOKEN;
if (!token) {
  console.error("Set FUZZ_TOKEN to the bearer token the fuzzer sends");
  process.exit(2);
}

const fuzzer: User = { username: "system:serviceaccount:fuzz:schemathesis" };
const reviews: AccessReviews = {
  async reviewToken(given) {
    return given === token ? fuzzer : undefined;
  },
  async reviewAccess() {
    return { allowed: true };
  },
};

const app = testApp({ env: { SCRIPTRUN_API_AUTH: "kubernetes" }, auth: new KubernetesAuth(reviews, 30) });
// The fake controller finishes a run in a few milliseconds; the fuzzer's runs pile up in memory,
// which for a run of a few thousand requests is fine.
console.log(`LISTENING ${await app.url()}`);

let closing = false;
async function close(): Promise<void> {
  if (closing) return;
  closing = true;
  await app.close();
  await closePreflight();
  process.exit(0);
}
process.on("SIGTERM", () => void close());
process.on("SIGINT", () => void close());

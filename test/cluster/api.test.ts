// The HTTP API on the real cluster, in front of the real controller: every behaviour case through
// POST /execute; the runs resource with its event stream and cancel; a restarted API; 100 calls
// at once; and auth decided by the cluster for real ServiceAccount tokens.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import * as k8s from "@kubernetes/client-node";
import { assertMatchesCase, caseFailures, loadCases, type Outcome } from "../cases.js";
import { type ApiProcess, readEvents, startApi } from "./api.js";
import { startController, stopController } from "./controller.js";
import { core, createNamespace, deleteNamespace, eventually, kc } from "./kube.js";

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function call(api: ApiProcess, method: string, path: string, body?: unknown, token?: string): Promise<Answer> {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: await response.json() as Record<string, unknown> };
}

const runPods = async (namespace: string, run: string) =>
  (await core.listNamespacedPod({ namespace, labelSelector: `scriptrun.dev/run=${run}` })).items;

const SLEEPER = "import time\ndef main():\n    print('started', flush=True)\n    time.sleep(120)\n";

describe("the HTTP API on the real cluster", function () {
  let namespace: string;
  let controller: ChildProcess;
  let api: ApiProcess;
  before(async () => {
    namespace = await createNamespace("api");
    controller = startController(namespace);
    api = await startApi({ SCRIPTRUN_API_NAMESPACE: namespace, SCRIPTRUN_API_MAX_WAIT_SECONDS: "300" });
  });
  after(async () => {
    if (api) await stopController(api.child);
    if (controller) await stopController(controller);
    await deleteNamespace(namespace);
  });

  it("answers every behaviour case through POST /execute", async () => {
    // A few at a time: two cores run the node, the control plane and the pods.
    const failures = await caseFailures(loadCases(), 6, async (c) => {
      const began = Date.now();
      const answer = await call(api, "POST", "/execute", c.request);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assertMatchesCase(c, answer.body as unknown as Outcome, (Date.now() - began) / 1000);
    });
    assert.deepEqual(failures, []);
  });

  it("refuses a script that fails preflight without creating a run", async () => {
    const before = await call(api, "GET", "/runs?limit=500");
    for (const [script, type] of [["def main(:\n", "syntax_error"], ["def helper():\n    return 1\n", "missing_entrypoint"]]) {
      const answer = await call(api, "POST", "/execute", { script });
      assert.equal(answer.status, 200);
      assert.deepEqual([answer.body.success, answer.body.name, (answer.body.error as { type: string } | null)?.type], [false, null, type]);
    }
    const after = await call(api, "GET", "/runs?limit=500");
    assert.equal((after.body.items as unknown[]).length, (before.body.items as unknown[]).length);
  });

  it("creates, lists, streams and cancels a run through the runs resource, keeping what it printed", async () => {
    const created = await call(api, "POST", "/runs", { script: SLEEPER, timeoutSeconds: 150 });
    assert.equal(created.status, 202);
    const name = created.body.name as string;
    const stream = readEvents(api, `/runs/${name}/events`, "finished");
    // Cancelled once the script really runs: it has printed.
    const printed = await readEvents(api, `/runs/${name}/events`, "output");
    assert.equal(printed.at(-1)!.data.text, "started\n");
    const listed = await call(api, "GET", "/runs?limit=500");
    assert.ok((listed.body.items as Array<{ name: string }>).some((item) => item.name === name));

    const cancel = await call(api, "DELETE", `/runs/${name}`);
    assert.equal(cancel.status, 202);
    const events = await stream;
    assert.deepEqual(events.filter((e) => e.event === "phase").map((e) => e.data.phase).slice(-2), ["Running", "Failed"]);
    assert.equal(events.at(-1)!.event, "finished");
    const finished = events.at(-1)!.data;
    assert.deepEqual([finished.phase, (finished.error as { type: string }).type, finished.stdout], ["Failed", "cancelled", "started\n"]);
    await eventually(`the pod of ${name} to go`, async () => ((await runPods(namespace, name)).length === 0 ? true : undefined));
    const again = await call(api, "DELETE", `/runs/${name}`);
    assert.equal(again.status, 409);
  });

  it("loses no run when the API restarts", async () => {
    const created = await call(api, "POST", "/runs", { script: "import time\ndef main():\n    time.sleep(2)\n    return 'kept'\n" });
    await stopController(api.child, "SIGKILL");
    api = await startApi({ SCRIPTRUN_API_NAMESPACE: namespace, SCRIPTRUN_API_MAX_WAIT_SECONDS: "300" });
    const name = created.body.name as string;
    const run = await eventually(`run ${name} to finish`, async () => {
      const answer = await call(api, "GET", `/runs/${name}`);
      return answer.body.phase === "Succeeded" ? answer.body : undefined;
    }, 120_000);
    assert.equal(run.result, "kept");
  });

  it("answers a caller whose API was killed mid-wait with the same run when it retries with its Idempotency-Key", async () => {
    const request = { script: "import time\ndef main():\n    time.sleep(3)\n    return 'once'\n" };
    const send = () => fetch(`${api.url}/execute`, {
      method: "POST", headers: { "content-type": "application/json", "idempotency-key": "retry-me" }, body: JSON.stringify(request),
    });
    const count = async () => ((await call(api, "GET", "/runs?limit=500")).body.items as unknown[]).length;
    const before = await count();
    const lost = send().then(() => "answered", () => "cut off");
    await eventually("the run to be created", async () => ((await count()) > before ? true : undefined));
    await stopController(api.child, "SIGKILL");
    assert.equal(await lost, "cut off");
    api = await startApi({ SCRIPTRUN_API_NAMESPACE: namespace, SCRIPTRUN_API_MAX_WAIT_SECONDS: "300" });
    const retry = await send();
    const answer = await retry.json() as Record<string, unknown>;
    assert.equal(retry.status, 200, JSON.stringify(answer));
    assert.equal(answer.result, "once");
    const again = await send();
    assert.equal((await again.json() as Record<string, unknown>).name, answer.name);
    assert.equal(await count(), before + 1, "a retry started a second run");
  });

  it("answers 100 concurrent /execute calls, none with a 5xx", async () => {
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) =>
      call(api, "POST", "/execute", { script: `def main():\n    return ${i}\n`, waitSeconds: 300 })));
    const statuses = answers.map((a) => a.status);
    assert.deepEqual(statuses.filter((s) => s >= 500), []);
    assert.deepEqual(answers.map((a) => a.body.result), Array.from({ length: 100 }, (_, i) => i));
  });
});

describe("the HTTP API's auth, decided by the cluster", function () {
  let allowed: string;
  let forbidden: string;
  let controller: ChildProcess;
  let api: ApiProcess;
  let runnerToken: string;
  let strangerToken: string;
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);

  async function serviceAccountToken(namespace: string, name: string): Promise<string> {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
    const request = await core.createNamespacedServiceAccountToken({ namespace, name, body: { spec: { audiences: [], expirationSeconds: 600 } } });
    return request.status!.token;
  }

  before(async () => {
    allowed = await createNamespace("api-allowed");
    forbidden = await createNamespace("api-forbidden");
    runnerToken = await serviceAccountToken(allowed, "runner");
    strangerToken = await serviceAccountToken(allowed, "stranger");
    await rbac.createNamespacedRole({ namespace: allowed, body: {
      metadata: { name: "scriptrun-user" },
      rules: [{ apiGroups: ["scriptrun.dev"], resources: ["scriptruns"], verbs: ["create", "get", "list", "delete"] }],
    } });
    await rbac.createNamespacedRoleBinding({ namespace: allowed, body: {
      metadata: { name: "scriptrun-user" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "scriptrun-user" },
      subjects: [{ kind: "ServiceAccount", name: "runner", namespace: allowed }],
    } });
    controller = startController(allowed);
    api = await startApi({ SCRIPTRUN_API_AUTH: "kubernetes", SCRIPTRUN_API_NAMESPACE: allowed });
  });
  after(async () => {
    if (api) await stopController(api.child);
    if (controller) await stopController(controller);
    await Promise.all([deleteNamespace(allowed), deleteNamespace(forbidden)]);
  });

  const hello = { script: "def main():\n    return 'hi'\n" };

  it("refuses a call without a token, or with a token the cluster does not accept, with 401", async () => {
    assert.equal((await call(api, "POST", "/execute", hello)).status, 401);
    assert.equal((await call(api, "POST", "/execute", hello, "not-a-token")).status, 401);
  });

  it("runs the script of a ServiceAccount allowed to create scriptruns in the namespace", async () => {
    const answer = await call(api, "POST", "/execute", hello, runnerToken);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual([answer.body.success, answer.body.result, answer.body.namespace], [true, "hi", allowed]);
  });

  it("refuses with 403 the same ServiceAccount in another namespace, and one with no rights", async () => {
    const elsewhere = await call(api, "POST", "/execute", { ...hello, namespace: forbidden }, runnerToken);
    assert.equal(elsewhere.status, 403, JSON.stringify(elsewhere.body));
    const stranger = await call(api, "POST", "/execute", hello, strangerToken);
    assert.equal(stranger.status, 403, JSON.stringify(stranger.body));
    const runs = await call(api, "GET", "/runs", undefined, strangerToken);
    assert.equal(runs.status, 403);
  });
});

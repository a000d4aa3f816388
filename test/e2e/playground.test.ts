// The playground page in real browsers: Debian's Chromium and Firefox ESR, headless, driven by
// puppeteer-core (CDP for Chromium, WebDriver BiDi for Firefox), against the real API and controller
// on the cluster. In each, it loads the page under its Content-Security-Policy with nothing
// refused, runs the hello example, runs a syntax error and finds its line marked in the editor (run
// with Ctrl+Enter), follows a long run and cancels it, and with Kubernetes auth on is asked for a
// token and told 401 and 403 plainly. Screenshots for a person to look at go to
// test/e2e/screenshots/ (ignored by git). Both browsers come from `make deps` (cluster/lib/deps.sh).
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { buildPlayground } from "../../playground/build.js";
import { type ApiProcess, startApi } from "../cluster/api.js";
import { getRun, startController, stopController } from "../cluster/controller.js";
import { core, createNamespace, deleteNamespace, kc } from "../cluster/kube.js";

const screenshots = join(resolve(dirname(fileURLToPath(import.meta.url))), "screenshots");
const BROWSERS = [
  { name: "chromium", browser: "chrome", executablePath: "/usr/bin/chromium" },
  { name: "firefox", browser: "firefox", executablePath: "/usr/bin/firefox-esr" },
] as const;
const RUN_MS = 120_000;

/** The page's console errors, uncaught exceptions and Content-Security-Policy violations. */
async function problemsOf(page: Page): Promise<string[]> {
  const problems: string[] = [];
  // Injected by the browser's automation, which the page's policy does not govern.
  await page.evaluateOnNewDocument(() => {
    document.addEventListener("securitypolicyviolation", (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
  });
  page.on("console", (message) => {
    // A refused API call (401, 403) is logged as a failed load: the page shows those itself.
    if (message.type() === "error" && !/Failed to load resource: the server responded with a status of 40[13]/.test(message.text())) {
      problems.push(message.text());
    }
  });
  page.on("pageerror", (err) => problems.push(String(err)));
  return problems;
}

const text = (page: Page, selector: string) => page.$eval(selector, (e) => e.textContent ?? "");

/** Waits until `selector`'s text matches `pattern`. */
async function waitForText(page: Page, selector: string, pattern: RegExp, timeout = RUN_MS): Promise<string> {
  await page.waitForFunction((s: string, source: string, flags: string) => new RegExp(source, flags).test(document.querySelector(s)?.textContent ?? ""),
    { timeout }, selector, pattern.source, pattern.flags);
  return text(page, selector);
}

async function pickExample(page: Page, id: string): Promise<void> {
  await page.select("#example", id);
}

/** The name of the newest run in Recent runs. */
const newestRun = (page: Page) => page.$eval("#runs tr", (row) => (row as HTMLElement).dataset.run ?? "");

describe("the playground page in real browsers", function () {
  let namespace: string;
  let controller: ChildProcess;
  let api: ApiProcess;
  let authApi: ApiProcess;
  let runnerToken: string;
  let strangerToken: string;

  async function serviceAccountToken(name: string): Promise<string> {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
    const request = await core.createNamespacedServiceAccountToken({ namespace, name, body: { spec: { audiences: [], expirationSeconds: 1800 } } });
    return request.status!.token;
  }

  before(async () => {
    for (const { executablePath } of BROWSERS) assert.ok(existsSync(executablePath), `${executablePath} is missing: make deps installs it`);
    mkdirSync(screenshots, { recursive: true });
    await buildPlayground();
    namespace = await createNamespace("playground");
    controller = startController(namespace);
    api = await startApi({ SCRIPTRUN_API_NAMESPACE: namespace });
    // The same namespace behind Kubernetes auth: a ServiceAccount allowed to run scripts, one not.
    runnerToken = await serviceAccountToken("runner");
    strangerToken = await serviceAccountToken("stranger");
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({ namespace, body: {
      metadata: { name: "scriptrun-user" },
      rules: [{ apiGroups: ["scriptrun.dev"], resources: ["scriptruns"], verbs: ["create", "get", "list", "delete"] }],
    } });
    await rbac.createNamespacedRoleBinding({ namespace, body: {
      metadata: { name: "scriptrun-user" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "scriptrun-user" },
      subjects: [{ kind: "ServiceAccount", name: "runner", namespace }],
    } });
    authApi = await startApi({ SCRIPTRUN_API_AUTH: "kubernetes", SCRIPTRUN_API_NAMESPACE: namespace });
  });
  after(async () => {
    if (authApi) await stopController(authApi.child);
    if (api) await stopController(api.child);
    if (controller) await stopController(controller);
    if (namespace) await deleteNamespace(namespace);
  });

  for (const { name: browserName, browser: kind, executablePath } of BROWSERS) {
    describe(`in ${browserName}`, function () {
      let browser: Browser;
      let page: Page;
      let problems: string[];
      const screenshot = (what: string) => page.screenshot({ path: join(screenshots, `${browserName}-${what}.png`), fullPage: true });

      before(async () => {
        browser = await puppeteer.launch({
          browser: kind,
          executablePath,
          headless: true,
          // Chromium's own sandbox refuses to start as root, which the cluster tests run as.
          args: kind === "chrome" && process.getuid?.() === 0 ? ["--no-sandbox"] : [],
        });
        page = await browser.newPage();
        await page.setViewport({ width: 1400, height: 1000 });
        problems = await problemsOf(page);
      });
      after(async () => {
        await browser?.close();
      });
      // Each test answers for what the page logged during it.
      beforeEach(() => {
        problems.length = 0;
      });

      it("loads the page under its Content-Security-Policy, nothing refused, the runtimes offered", async () => {
        const response = await page.goto(`${api.url}/`);
        assert.equal(response?.status(), 200);
        const csp = response?.headers()["content-security-policy"] ?? "";
        assert.match(csp, /script-src 'self'/);
        assert.doesNotMatch(csp, /unsafe-inline/);
        await page.waitForSelector("#runtime option[value=python]");
        // Python highlighting: the editor's `def` and the string are tokens of their own.
        await page.waitForSelector("#editor >>> .cm-content .cm-line span");
        assert.match(await text(page, "#editor >>> .cm-content"), /def main\(\):\s*return "Hello, World!"/);
        assert.deepEqual(problems, []);
      });

      it("runs the hello example and shows its result", async () => {
        await pickExample(page, "hello");
        await page.click("#run");
        const verdict = await waitForText(page, "#verdict", /succeeded|failed|ended/);
        await screenshot("hello");
        assert.match(verdict, /succeeded/);
        assert.equal(await text(page, "#result"), '"Hello, World!"');
        const name = await newestRun(page);
        assert.equal(await text(page, `#run-row-${name} .phase`), "Succeeded");
        // The run the page shows is the cluster's.
        const run = await getRun(namespace, name);
        assert.deepEqual([run.status?.phase, run.status?.result], ["Succeeded", "Hello, World!"]);
        assert.deepEqual(problems, []);
      });

      it("marks the line of a syntax error in the editor, run from the keyboard with Ctrl+Enter", async () => {
        await pickExample(page, "syntax-error");
        await page.click("#editor >>> .cm-content");
        await page.keyboard.down("Control");
        await page.keyboard.press("Enter");
        await page.keyboard.up("Control");
        await waitForText(page, "#error-type", /syntax_error/);
        const marked = await page.$$eval("#editor >>> .cm-error-line", (lines) => lines.map((l) => l.textContent));
        await screenshot("syntax-error");
        // Line 3 of the example, and Ctrl+Enter ran it without adding a line to it.
        assert.deepEqual(marked, ["    for i in range(10)"]);
        assert.equal(await page.$$eval("#editor >>> .cm-content .cm-line", (lines) => lines.length), 6);
        assert.match(await text(page, "#error-line"), /line 3/);
        assert.match(await text(page, "#verdict"), /failed/);
        assert.deepEqual(problems, []);
      });

      it("follows a long run's phases and output live and cancels it", async () => {
        await pickExample(page, "long-run");
        await page.click("#run");
        await waitForText(page, "#status", /: Running/);
        // Printed at once, shown while the run still sleeps.
        await waitForText(page, "#stdout", /sleeping for two minutes/);
        assert.match(await text(page, "#verdict"), /is running/);
        const name = await newestRun(page);
        await page.click("#cancel");
        await waitForText(page, "#error-type", /cancelled/);
        await screenshot("cancelled");
        assert.equal(await text(page, `#run-row-${name} .phase`), "Failed");
        const run = await getRun(namespace, name);
        assert.equal((run.status?.error as { type?: string } | undefined)?.type, "cancelled");
        assert.deepEqual(problems, []);
      });

      it("with Kubernetes auth on, asks for a token, tells 401 and 403 plainly, and runs with a token allowed to", async () => {
        const giveToken = async (token: string) => {
          await page.type("#token", token);
          await page.keyboard.press("Enter");
        };
        await page.goto(`${authApi.url}/`);
        await page.waitForSelector("#token-panel:not([hidden])");
        assert.match(await waitForText(page, "#token-reason", /401/), /^401 Unauthenticated: Send a Kubernetes bearer token/);

        await giveToken("not-a-token");
        assert.match(await waitForText(page, "#token-reason", /does not accept/), /^401 Unauthenticated: The cluster does not accept this token/);

        await giveToken(strangerToken);
        const forbidden = await waitForText(page, "#token-reason", /403/);
        await screenshot("token-403");
        assert.match(forbidden, new RegExp(`^403 Forbidden: system:serviceaccount:${namespace}:stranger may not create scriptruns.scriptrun.dev in namespace ${namespace}`));

        await giveToken(runnerToken);
        await page.waitForSelector("#token-panel[hidden]");
        await page.waitForSelector("#runtime option[value=python]");
        // Kept for this tab only.
        assert.equal(await page.evaluate(() => sessionStorage.getItem("scriptrun.token")), runnerToken);
        await pickExample(page, "print-and-sum");
        await page.click("#run");
        assert.match(await waitForText(page, "#verdict", /succeeded|failed|ended/), /succeeded/);
        assert.deepEqual([await text(page, "#result"), await text(page, "#stdout")], ["15", "Processing...\n"]);
        assert.deepEqual(problems, []);
      });
    });
  }
});

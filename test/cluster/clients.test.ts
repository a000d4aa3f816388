// The clients on the real cluster: the `scriptrun` command line spawned as a user runs it, with a
// kubeconfig (creating and watching ScriptRuns itself) and with --server against a real API
// process, checked by its output and exit codes; and the Python client's pytest suite against the
// same API. The API ends its event streams after 8 s here, so following a longer run has to
// reopen the stream.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { RUNTIMES } from "../../core/runtimeCatalog.js";
import { type ApiProcess, startApi } from "./api.js";
import { startController, stopController } from "./controller.js";
import { RUNNER_IMAGE, createNamespace, custom, deleteNamespace, eventually, freePort, nodeArgs } from "./kube.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const STREAM_SECONDS = 8;
const MISSING_IMAGE = "localhost/scriptrun/no-such-runner:0";

interface Done {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** When the first of stdout came, since the start. */
  firstStdoutMs: number | undefined;
}

type Running = Promise<Done> & { stderrSoFar(): string };

/** Runs `command` with `args` as a user would, feeding it `input`. */
function spawned(command: string, args: string[], input = "", env: Record<string, string> = {}): Running {
  const began = Date.now();
  const child = spawn(command, args, { cwd: repo, env: { ...process.env, ...env } });
  let stdout = "";
  let stderr = "";
  let firstStdoutMs: number | undefined;
  child.stdout.on("data", (chunk: Buffer) => {
    firstStdoutMs ??= Date.now() - began;
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => { stderr += chunk.toString(); });
  child.stdin.end(input);
  const done = new Promise<Done>((resolveDone) => child.on("close", (code) => resolveDone({ code, stdout, stderr, ms: Date.now() - began, firstStdoutMs })));
  return Object.assign(done, { stderrSoFar: () => stderr });
}

/** The command line, from this checkout's sources. */
const scriptrun = (args: string[], input = ""): Running => spawned("node", [...nodeArgs("cli/main", "source"), ...args], input);

/** A file of the test's own with `text` in it. */
function file(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "scriptrun-cli-")), name);
  writeFileSync(path, text);
  return path;
}

const HELLO = file("hello.py", "def main(name='World'):\n    print('greeting', name)\n    return {'greeting': f'Hello, {name}!'}\n");
const FAILING = file("failing.py", "def main():\n    print('about to divide')\n    return 1 / 0\n");
const SLEEPER = file("sleeper.py", "import time\ndef main():\n    time.sleep(120)\n");
// The default 10 s timeout would end a sleeper before a slow machine got to cancel it.
const SLEEPER_TIMEOUT = ["--timeout", "150"];
/** A script that prints `ticks` lines half a second apart, then "done" on stderr. */
const ticker = (ticks: number): string =>
  file("ticker.py", `import sys, time\nfor i in range(${ticks}):\n    print('tick', i, flush=True)\n    time.sleep(0.5)\nprint('done', file=sys.stderr)\n`);
const TICKER = ticker(8);
/** Long enough that logs -f, started after a submit and a logs of its own, still finds it printing. */
const LONG_TICKER = ticker(20);

describe("the clients on the real cluster", function () {
  let namespace: string;
  let controller: ChildProcess;
  let api: ApiProcess;
  const broken = () => `${namespace}-broken`;
  const strict = () => `${namespace}-strict`;
  /** The command line against the cluster of the kubeconfig, in the suite's namespace. */
  const kube = (...args: string[]) => ["--kubeconfig", process.env.KUBECONFIG!, "-n", namespace, ...args];
  /** The command line against the suite's API. */
  const http = (...args: string[]) => ["--server", api.url, ...args];

  before(async () => {
    assert.ok(process.env.KUBECONFIG, "KUBECONFIG names the test cluster");
    namespace = await createNamespace("clients");
    // Two runs at a time, so that a third waits in the queue.
    controller = startController(namespace, { SCRIPTRUN_MAX_CONCURRENT_RUNS: "2" });
    for (const [name, spec] of [[broken(), { image: MISSING_IMAGE, imagePullPolicy: "Never" }], [strict(), { image: RUNNER_IMAGE, imports: { deny: ["socket"] } }]] as const) {
      await custom.createClusterCustomObject({ ...RUNTIMES, body: { apiVersion: "scriptrun.dev/v1alpha1", kind: "ScriptRuntime", metadata: { name }, spec } });
    }
    api = await startApi({ SCRIPTRUN_API_NAMESPACE: namespace, SCRIPTRUN_API_MAX_WAIT_SECONDS: String(STREAM_SECONDS) });
  });
  after(async () => {
    if (api) await stopController(api.child);
    if (controller) await stopController(controller);
    for (const name of [broken(), strict()]) await custom.deleteClusterCustomObject({ ...RUNTIMES, name }).catch(() => undefined);
    await deleteNamespace(namespace);
  });

  for (const [how, where] of [["a kubeconfig", "kube"], ["--server", "http"]] as const) {
    const args = (...rest: string[]) => (where === "kube" ? kube(...rest) : http(...rest));

    it(`runs a script with ${how}: phases on stderr, then its stdout and result, exit 0`, async () => {
      const done = await scriptrun(args("run", HELLO, "--kwargs", '{"name": "Ada"}'));
      assert.equal(done.code, 0, done.stderr);
      assert.equal(done.stdout, 'greeting Ada\n{"greeting":"Hello, Ada!"}\n');
      // Not a terminal: a plain line per phase, ending with the outcome's.
      assert.match(done.stderr, /^run-[a-z2-7]{12} {2}(Pending|Queued|Running)[^\n]*\n(.*\n)*run-[a-z2-7]{12} {2}Succeeded {2}\d+\.\ds\n$/);
    });

    it(`ends a failed script with its error on stderr and exit 1, with ${how}`, async () => {
      const done = await scriptrun(args("run", FAILING));
      assert.equal(done.code, 1, done.stderr);
      assert.equal(done.stdout, "about to divide\n");
      assert.match(done.stderr, /runtime_error: ZeroDivisionError: division by zero \(line 3\)\nTraceback \(most recent call last\):\n {2}File "<script>", line 3, in main/);
    });

    it(`reads the script and its arguments from standard input and options, with ${how}`, async () => {
      const done = await scriptrun(args("run", "-", "--mode", "script", "--stdin", "from stdin", "--timeout", "20"),
        "import sys\nprint(sys.stdin.read().upper())\n");
      assert.equal(done.code, 0, done.stderr);
      assert.equal(done.stdout, "FROM STDIN\n");
    });

    it(`submits, gets, lists, and prints the logs of a run, with ${how}`, async () => {
      const submitted = await scriptrun(args("submit", HELLO, "--arg", '"Bo"'));
      assert.equal(submitted.code, 0, submitted.stderr);
      const name = submitted.stdout.trim();
      assert.match(name, /^run-[a-z2-7]{12}$/);
      const logs = await scriptrun(args("logs", name, "-f"));
      assert.deepEqual([logs.code, logs.stdout], [0, "greeting Bo\n"], logs.stderr);
      const table = await scriptrun(args("get", name));
      assert.match(table.stdout, new RegExp(`^NAME +PHASE +DURATION +RESULT +AGE\\n${name} +Succeeded +\\d+(ms|\\.\\ds) +\\{"greeting":"Hello, Bo!"\\} +\\d+s\\n$`));
      const view = JSON.parse((await scriptrun(args("get", name, "-o", "json"))).stdout) as Record<string, unknown>;
      assert.deepEqual([view.name, view.namespace, view.success, view.result, view.stdout], [name, namespace, true, { greeting: "Hello, Bo!" }, "greeting Bo\n"]);
      const listed = await scriptrun(args("list", "-o", "name"));
      assert.ok(listed.stdout.split("\n").includes(name), listed.stdout);
      const wide = await scriptrun(args("ls", "-o", "wide"));
      assert.match(wide.stdout, new RegExp(`^NAMESPACE .*\\n(.*\\n)*${namespace} +${name} +Succeeded`));
    });

    it(`cancels a running run, and refuses to cancel it again with exit 1, with ${how}`, async () => {
      const name = (await scriptrun(args("submit", SLEEPER, ...SLEEPER_TIMEOUT))).stdout.trim();
      await eventually(`${name} to run`, async () =>
        ((JSON.parse((await scriptrun(args("get", name, "-o", "json"))).stdout) as { phase: string }).phase === "Running" ? true : undefined), 120_000);
      const cancelled = await scriptrun(args("cancel", name));
      assert.deepEqual([cancelled.code, cancelled.stdout], [0, `${name}: cancel requested\n`], cancelled.stderr);
      const logs = await scriptrun(args("logs", name, "-f"));
      assert.equal(logs.code, 0, logs.stderr);
      const view = JSON.parse((await scriptrun(args("get", name, "-o", "json"))).stdout) as { error: { type: string } };
      assert.equal(view.error.type, "cancelled");
      const again = await scriptrun(args("cancel", name));
      assert.equal(again.code, 1);
      assert.match(again.stderr, /already finished/);
    });

    it(`follows with logs -f a run that prints for ten seconds, printing its output as it comes, with ${how}`, async () => {
      const name = (await scriptrun(args("submit", LONG_TICKER, "--mode", "script", "--timeout", "30"))).stdout.trim();
      // Both at once: started after the early look, a follow slow to start on a busy machine (each
      // command compiles its TypeScript) came in at the last ticks, and its first output could not
      // be told from a follow that printed everything at the end.
      const [early, followed] = await Promise.all([scriptrun(args("logs", name)), scriptrun(args("logs", name, "-f"))]);
      assert.deepEqual([early.code, early.stdout], [0, ""]);
      assert.match(early.stderr, new RegExp(`^Run ${name} is (Pending|Queued|Running); logs -f follows its output\\n$`));
      assert.equal(followed.code, 0, followed.stderr);
      assert.equal(followed.stdout, Array.from({ length: 20 }, (_, i) => `tick ${i}\n`).join(""));
      assert.equal(followed.stderr, "done\n");
      // The first ticks come while the script still prints the others.
      assert.ok(followed.ms - followed.firstStdoutMs! > 1500, `first output ${followed.firstStdoutMs} ms, end ${followed.ms} ms`);
    });

    it(`waits for a run longer than the API's longest event stream, with ${how}`, async () => {
      const seconds = STREAM_SECONDS + 3;
      const done = await scriptrun(args("run", "-", "--timeout", String(seconds + 20)), `import time\ndef main():\n    time.sleep(${seconds})\n    return 'still here'\n`);
      assert.deepEqual([done.code, done.stdout], [0, '"still here"\n'], done.stderr);
      assert.ok(done.ms > seconds * 1000);
    });

    it(`lists the runtimes, with ${how}`, async () => {
      const done = await scriptrun(args("runtimes"));
      assert.equal(done.code, 0, done.stderr);
      assert.match(done.stdout, /^NAME +DEFAULT +DEFAULTS +MAXIMA +MODULES\n/);
      assert.match(done.stdout, /\npython +true +10s\/500m\/256Mi +300s\/2\/2Gi +- *\n/);
      assert.match((await scriptrun(args("runtimes", "-o", "name"))).stdout, /^(.*\n)*python-datascience\n/);
    });

    it(`says why a run was refused, or the run or command does not exist, with ${how}`, async () => {
      const missing = await scriptrun(args("get", "run-not-there"));
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /run-not-there/);
      const typo = await scriptrun(args("rnu", HELLO));
      assert.equal(typo.code, 2);
      assert.match(typo.stderr, /error: unknown command 'rnu'/);
      const unreadable = await scriptrun(args("run", "/no/such/script.py"));
      assert.deepEqual([unreadable.code, unreadable.stderr], [2, "error: Could not read the script /no/such/script.py: ENOENT: no such file or directory, open '/no/such/script.py'\n"]);
      const badCpu = await scriptrun(args("run", HELLO, "--cpu", "lots"));
      assert.equal(badCpu.code, 2);
      assert.match(badCpu.stderr, /^error: --cpu: /);
    });
  }

  it("shows the place in the queue while a run waits for capacity", async () => {
    const sleepers = await Promise.all([0, 1].map(async () => (await scriptrun(kube("submit", SLEEPER, ...SLEEPER_TIMEOUT))).stdout.trim()));
    try {
      await eventually("both sleepers to run", async () => {
        const phases = await Promise.all(sleepers.map(async (s) => (JSON.parse((await scriptrun(kube("get", s, "-o", "json"))).stdout) as { phase: string }).phase));
        return phases.every((p) => p === "Running") ? true : undefined;
      }, 120_000);
      const waiting = scriptrun(kube("run", HELLO));
      await eventually("the run to say it is queued", async () => (/Queued \(position 1 in the queue\)/.test(waiting.stderrSoFar()) ? true : undefined), 60_000);
      for (const sleeper of sleepers) assert.equal((await scriptrun(kube("cancel", sleeper))).code, 0);
      const done = await waiting;
      assert.equal(done.code, 0, done.stderr);
      assert.match(done.stderr, /Queued \(position 1 in the queue\)[^\n]*\n(.*\n)*run-[a-z2-7]{12} {2}Succeeded/);
    } finally {
      for (const sleeper of sleepers) await scriptrun(kube("cancel", sleeper));
    }
  });

  it("rewrites one status line in place on a terminal", async () => {
    // script(1) gives the command a terminal, as a person's shell would.
    const command = [...nodeArgs("cli/main", "source"), ...kube("run", TICKER, "--mode", "script")].map((w) => `'${w}'`).join(" ");
    const done = await spawned("script", ["-qefc", `node ${command}`, "/dev/null"]);
    assert.equal(done.code, 0, done.stdout);
    const frames = done.stdout.split("\r\x1b[K").slice(1);
    // Many frames of the one line, the time ticking; between them, the output as it came, on lines of its own.
    const status = (f: string) => /^run-[a-z2-7]{12} {2}(Pending|Running|Succeeded) {2}\d+\.\ds$/.test(f);
    assert.ok(frames.filter(status).length > 10, JSON.stringify(frames));
    assert.equal(frames.filter((f) => !status(f)).join(""), `${Array.from({ length: 8 }, (_, i) => `tick ${i}\r\n`).join("")}done\r\n`,
      JSON.stringify(frames));
    // The first tick came while the run was still Running: the line was drawn again after it.
    assert.ok(frames.slice(frames.findIndex((f) => f.startsWith("tick 0"))).some((f) => / {2}Running {2}/.test(f)), JSON.stringify(frames));
  });

  it("prints output as it comes through the API, the status line drawn again below it", async () => {
    const command = [...nodeArgs("cli/main", "source"), ...http("run", TICKER, "--mode", "script")].map((w) => `'${w}'`).join(" ");
    const done = await spawned("script", ["-qefc", `node ${command}`, "/dev/null"]);
    assert.equal(done.code, 0, done.stdout);
    const screen = done.stdout;
    assert.match(screen, /tick 0\r\n/);
    // After the first tick, the line is drawn again, still Running, the script still printing.
    const afterFirst = screen.slice(screen.indexOf("tick 0\r\n")).split("\r\x1b[K");
    assert.ok(afterFirst.some((f) => /^run-[a-z2-7]{12} {2}Running {2}\d+\.\ds$/.test(f)), JSON.stringify(afterFirst));
    assert.ok(screen.indexOf("tick 0") < screen.indexOf("tick 7"));
    assert.match(screen, /done\r\n/);
  });

  it("exits 3 when the cluster or the API cannot be reached", async () => {
    const port = await freePort();
    const kubeconfig = file("kubeconfig", `apiVersion: v1
kind: Config
clusters: [{name: gone, cluster: {server: "https://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]
users: [{name: someone, user: {token: t}}]
contexts: [{name: gone, context: {cluster: gone, user: someone}}]
current-context: gone
`);
    const viaKube = await scriptrun(["--kubeconfig", kubeconfig, "run", HELLO]);
    assert.equal(viaKube.code, 3, viaKube.stderr);
    assert.match(viaKube.stderr, new RegExp(`^error: Could not reach the cluster at https://127.0.0.1:${port} \\(context gone\\): .*ECONNREFUSED`));
    const viaApi = await scriptrun(["--server", `http://127.0.0.1:${port}`, "list"]);
    assert.equal(viaApi.code, 3, viaApi.stderr);
    assert.match(viaApi.stderr, new RegExp(`^error: Could not reach the API at http://127.0.0.1:${port}: fetch failed: .*ECONNREFUSED`));
    const noContext = await scriptrun(["--kubeconfig", kubeconfig, "--context", "elsewhere", "list"]);
    assert.deepEqual([noContext.code, noContext.stderr], [2, 'error: No context "elsewhere" in the kubeconfig; it has: gone\n']);
  });

  it("runs as the kubectl plugin kubectl-scriptrun", async () => {
    const bin = mkdtempSync(join(tmpdir(), "scriptrun-plugin-"));
    writeFileSync(join(bin, "kubectl-scriptrun"), `#!/bin/sh\nexec node --import tsx ${join(repo, "cli", "main.ts")} "$@"\n`);
    chmodSync(join(bin, "kubectl-scriptrun"), 0o755);
    const done = await spawned("kubectl", ["scriptrun", "-n", namespace, "run", HELLO, "--arg", "Cy"], "", { PATH: `${bin}:${process.env.PATH}` });
    assert.equal(done.code, 0, done.stderr);
    assert.equal(done.stdout, 'greeting Cy\n{"greeting":"Hello, Cy!"}\n');
  });

  it("passes the Python client's tests against the API", async () => {
    const done = await spawned("python3", ["-m", "pytest", "-q", "-p", "no:cacheprovider", "clients/python/tests/api"], "", {
      SCRIPTRUN_TEST_URL: api.url, SCRIPTRUN_TEST_BROKEN_RUNTIME: broken(), SCRIPTRUN_TEST_STRICT_RUNTIME: strict(),
      SCRIPTRUN_TEST_STREAM_SECONDS: String(STREAM_SECONDS),
    });
    assert.equal(done.code, 0, `${done.stdout}${done.stderr}`);
    assert.match(done.stdout, /\b\d+ passed in /);
    assert.doesNotMatch(done.stdout, /skipped|xfail|deselected/);
  });
});


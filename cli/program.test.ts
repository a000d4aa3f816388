// The command line's grammar: what each command's words become, what is refused as bad usage, and
// the spec a run's options make.
import assert from "node:assert/strict";
import { CommanderError } from "commander";
import { CliError, EXIT } from "./errors.js";
import { type Invocation, parseCommandLine, programName } from "./program.js";
import { buildSpec, parseArg } from "./spec.js";

function parse(...words: string[]): { invocation?: Invocation; out: string; err: string; exitCode?: number } {
  let out = "";
  let err = "";
  try {
    const invocation = parseCommandLine("scriptrun", words, { writeOut: (t) => { out += t; }, writeErr: (t) => { err += t; } });
    return { invocation, out, err };
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    return { out, err, exitCode: e.exitCode };
  }
}

describe("the scriptrun command line", () => {
  it("reads run's options, repeated --arg values as JSON or text, and global options after the command", () => {
    const { invocation } = parse("run", "job.py", "--arg", "6", "--arg", "[1, 2]", "--arg", "Ada", "--kwargs", '{"city": "Oslo"}',
      "--timeout", "30", "--cpu", "1", "--memory", "512Mi", "--runtime", "python-datascience", "--entrypoint", "compute",
      "-n", "team-a", "--server", "http://127.0.0.1:8080", "-o", "json");
    assert.deepEqual(invocation, {
      command: "run",
      globals: { server: "http://127.0.0.1:8080", namespace: "team-a" },
      file: "job.py",
      options: {
        arg: [6, [1, 2], "Ada"], kwargs: { city: "Oslo" }, timeout: 30, cpu: "1", memory: "512Mi",
        runtime: "python-datascience", entrypoint: "compute",
      },
      output: "json",
    });
  });

  it("reads the other commands", () => {
    assert.deepEqual(parse("--kubeconfig", "/k", "--context", "kind", "get", "run-a", "-o", "yaml").invocation,
      { command: "get", globals: { kubeconfig: "/k", context: "kind" }, name: "run-a", output: "yaml" });
    assert.deepEqual(parse("ls", "-o", "wide").invocation, { command: "list", globals: {}, output: "wide" });
    assert.deepEqual(parse("logs", "run-a", "-f").invocation, { command: "logs", globals: {}, name: "run-a", follow: true });
    assert.deepEqual(parse("logs", "run-a").invocation, { command: "logs", globals: {}, name: "run-a", follow: false });
    assert.deepEqual(parse("cancel", "run-a").invocation, { command: "cancel", globals: {}, name: "run-a" });
    assert.deepEqual(parse("runtimes", "-o", "name").invocation, { command: "runtimes", globals: {}, output: "name" });
    assert.deepEqual(parse("submit", "-", "--mode", "script").invocation,
      { command: "submit", globals: {}, file: "-", options: { arg: [], mode: "script" }, output: "table" });
    assert.deepEqual(parse("submit", "job.py", "--idempotency-key", "nightly-2024-06-01").invocation,
      { command: "submit", globals: {}, file: "job.py", options: { arg: [], idempotencyKey: "nightly-2024-06-01" }, output: "table" });
    assert.deepEqual(parse("completion", "zsh").invocation, { command: "completion", globals: {}, shell: "zsh" });
  });

  it("refuses bad words with a reason and a non-zero code, and prints help with code 0", () => {
    for (const words of [
      ["run"], ["run", "a.py", "--timeout", "0"], ["run", "a.py", "--kwargs", "[1]"], ["run", "a.py", "--kwargs", "{"],
      ["run", "a.py", "--mode", "module"], ["get", "run-a", "-o", "xml"], ["run", "a.py", "--frobnicate"], ["explode"],
      ["--server", "http://x", "--context", "kind", "list"], ["get"], ["get", "a", "b"], ["completion", "fish"],
      // What the API refuses as an Idempotency-Key, refused before the script is read and sent.
      ["run", "a.py", "--idempotency-key", ""], ["run", "a.py", "--idempotency-key", "two words"],
      ["submit", "a.py", "--idempotency-key", "k".repeat(256)], ["submit", "a.py", "--idempotency-key", "clé"],
      ["run", "a.py", "--arg", "9007199254740993"], ["run", "a.py", "--kwargs", '{"n": 9007199254740993}'],
      ["run", "a.py", "--arg", "1e400"], ["run", "a.py", "--kwargs", '{"n": [-1e309]}'],
    ]) {
      const { invocation, err, exitCode } = parse(...words);
      assert.equal(invocation, undefined, words.join(" "));
      assert.notEqual(exitCode, 0, words.join(" "));
      assert.match(err, /error:/, words.join(" "));
    }
    assert.match(parse("run", "a.py", "--kwargs", "[1]").err, /not a JSON object/);
    // Read here as doubles, they would reach the script as other numbers.
    assert.match(parse("run", "a.py", "--arg", "[12345678901234567890]").err,
      /argument '\[12345678901234567890\]' is invalid\. The integer 12345678901234567890 would become 12345678901234567000: .*; send it as a string\./);
    assert.match(parse("submit", "a.py", "--kwargs", '{"n": -9007199254740993}').err, /The integer -9007199254740993 would become -9007199254740992/);
    assert.match(parse("run", "a.py", "--arg", "1e400").err, /The number 1e400 would become null/);
    for (const words of [["--help"], ["run", "--help"], ["logs", "--help"], ["completion", "--help"]]) {
      const { out, exitCode } = parse(...words);
      assert.equal(exitCode, 0, words.join(" "));
      assert.match(out, /^Usage: scriptrun/, words.join(" "));
    }
    assert.match(parse("--help").out, /Exit codes: 0 success; 1 the script failed/);
    assert.match(parse("run", "--help").out, /--arg <value>[\s\S]*--stdin <text>[\s\S]*Examples:/);
    // logs -f prints the output live, not once the run has finished.
    assert.doesNotMatch(parse("logs", "--help").out, /finish first|until it finishes, then print/);
    assert.match(parse("logs", "--help").out, /as it comes/);
  });

  it("is kubectl scriptrun when kubectl runs it as a plugin", () => {
    assert.equal(programName("/usr/local/bin/kubectl-scriptrun"), "kubectl scriptrun");
    assert.equal(programName("/repo/dist/cli/kubectl-scriptrun.js"), "kubectl scriptrun");
    assert.equal(programName("/usr/local/bin/scriptrun"), "scriptrun");
  });
});

describe("the spec a run's options make", () => {
  it("takes --arg values as JSON, or as text when they are not JSON", () => {
    assert.deepEqual(["3", "true", "null", '"3"', "[1, 2]", "Ada", "007", "{x", "9007199254740991", '"12345678901234567890"', "1e300", "9007199254740994"].map(parseArg),
      [3, true, null, "3", [1, 2], "Ada", "007", "{x", 9007199254740991, "12345678901234567890", 1e300, 9007199254740994]);
  });

  it("sends only what was given, with resources together", () => {
    assert.deepEqual(buildSpec("def main(): pass\n", { arg: [] }), { script: "def main(): pass\n" });
    assert.deepEqual(buildSpec("x", { arg: [1], memory: "64Mi", stdin: "in", mode: "function" }),
      { script: "x", mode: "function", args: [1], stdin: "in", resources: { memory: "64Mi" } });
  });

  it("refuses what the ScriptRun schema refuses as bad usage, naming the option", () => {
    const refusal = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        assert.ok(err instanceof CliError);
        assert.equal(err.exitCode, EXIT.usage);
        return err.message;
      }
      assert.fail("not refused");
    };
    assert.match(refusal(() => buildSpec("x", { arg: [], cpu: "lots" })), /^--cpu: /);
    assert.match(refusal(() => buildSpec("x", { arg: [], entrypoint: "not-a-name" })), /^--entrypoint: /);
    assert.match(refusal(() => buildSpec("", { arg: [] })), /^the script: /);
    assert.match(refusal(() => buildSpec("x", { arg: [1], mode: "script" })), /--mode script .* takes no --entrypoint, --arg or --kwargs/);
  });
});

// The command line's grammar, with commander: the commands, their options and help, parsed into an
// Invocation that main.ts carries out. Parsing does nothing else, so it is tested on its own.
import { Argument, Command, InvalidArgumentError, Option } from "commander";
import type { Format } from "./format.js";
import { isIdempotencyKey } from "../api/idempotency.js";
import { type RunOptions, parseArg, parseKwargs, parseSeconds } from "./spec.js";

/** Where the commands go: the cluster of a kubeconfig, or the HTTP API at `server`. */
export interface Globals {
  kubeconfig?: string;
  context?: string;
  server?: string;
  token?: string;
  namespace?: string;
}

const GLOBAL_KEYS = ["kubeconfig", "context", "server", "token", "namespace"] as const;

export type Shell = "bash" | "zsh";

export type Invocation = { globals: Globals } & (
  | { command: "run" | "submit"; file: string; options: RunOptions; output: Format }
  | { command: "get"; name: string; output: Format }
  | { command: "list" | "runtimes"; output: Format }
  | { command: "logs"; name: string; follow: boolean }
  | { command: "cancel"; name: string }
  | { command: "completion"; shell: Shell }
);

export interface Output {
  writeOut(text: string): void;
  writeErr(text: string): void;
}

/** `kubectl scriptrun` when kubectl runs this as its plugin `kubectl-scriptrun`. */
export function programName(argv1: string | undefined): string {
  return /(^|\/)kubectl-scriptrun(\.[cm]?js)?$/.test(argv1 ?? "") ? "kubectl scriptrun" : "scriptrun";
}

const EXIT_CODES = `
Exit codes: 0 success; 1 the script failed (its error type and message on stderr), or what was asked
could not be done; 2 bad usage, or a request or run refused as invalid (error type invalid_input: no such
runtime, more than its maxima); 3 the cluster or the API could not be reached, or there is no kubeconfig.`;

function outputOption(formats: Format[]): Option {
  return new Option("-o, --output <format>", "output format").choices(formats.filter((f) => f !== "table"));
}

const argument = (parse: (value: string) => string | undefined | number | Record<string, unknown>, what: string) =>
  (value: string) => {
    const parsed = parse(value);
    if (parsed === undefined) throw new InvalidArgumentError(`Not ${what}.`);
    if (typeof parsed === "string") throw new InvalidArgumentError(`It is ${parsed}.`);
    return parsed;
  };

/** The options `run` and `submit` share: what to run, with what, within which limits. */
function runOptions(command: Command): Command {
  return command
    .argument("<file>", "the Python script, or - to read it from standard input")
    .option("--arg <value>", "a positional argument of the entrypoint, as JSON (3, true, [1, 2], '\"text\"') or else as text; repeat it for more",
      (value: string, previous: unknown[] | undefined) => [...(previous ?? []), parseArg(value)])
    .option("--kwargs <json>", "keyword arguments of the entrypoint, as a JSON object", argument(parseKwargs, "a JSON object"))
    .option("--stdin <text>", "the script's standard input: text, @FILE to read a file, or @- to read this command's standard input")
    .option("--runtime <name>", "the ScriptRuntime to run on (scriptrun runtimes lists them); the default runtime when absent")
    .option("--timeout <seconds>", "wall-clock limit in seconds; the runtime's default when absent", argument(parseSeconds, "a whole number of seconds from 1"))
    .option("--cpu <quantity>", "CPU for the run, e.g. 500m or 1; the runtime's default when absent")
    .option("--memory <quantity>", "memory for the script, e.g. 256Mi; the runtime's default when absent")
    .addOption(new Option("--mode <mode>", "function: call the entrypoint, whose return value is the result; script: run the file top to bottom")
      .choices(["function", "script"]))
    .option("--entrypoint <name>", "the function to call in function mode (main when absent)")
    .option("--idempotency-key <key>", "with --server, the API's Idempotency-Key: the same command run again with the same key "
      + "(after an answer that never came) gets the first one's run rather than starting a second (a new key each time when absent)",
    (value: string) => {
      // Checked as the API checks it, which would refuse it with a 400 only after the script was read and sent.
      if (!isIdempotencyKey(value)) throw new InvalidArgumentError("Not 1 to 255 printable ASCII characters without spaces.");
      return value;
    });
}

function runOptionsOf(opts: Record<string, unknown>): RunOptions {
  const { arg, kwargs, stdin, runtime, timeout, cpu, memory, mode, entrypoint, idempotencyKey } = opts as Partial<RunOptions> & Record<string, unknown>;
  return {
    arg: arg ?? [],
    ...Object.fromEntries(Object.entries({ kwargs, stdin, runtime, timeout, cpu, memory, mode, entrypoint, idempotencyKey })
      .filter(([, v]) => v !== undefined)),
  } as RunOptions;
}

/** The program; each command's action hands its Invocation to `done`. */
export function buildProgram(name: string, out: Output, done: (invocation: Invocation) => void): Command {
  const program = new Command(name)
    .description("Run Python scripts in sandboxed pods of a Kubernetes cluster (ScriptRun), and follow, list and cancel them.")
    .configureOutput({ writeOut: out.writeOut, writeErr: out.writeErr })
    .exitOverride()
    .showHelpAfterError(`(${name} --help lists the commands and options)`)
    .addOption(new Option("--kubeconfig <file>", "the kubeconfig to use (else KUBECONFIG, else ~/.kube/config), as kubectl").conflicts("server"))
    .addOption(new Option("--context <name>", "the kubeconfig context to use (else its current one)").conflicts("server"))
    .option("--server <url>", "talk to the ScriptRun HTTP API at this URL instead of the cluster, e.g. http://127.0.0.1:8080")
    .addOption(new Option("--token <token>", "bearer token for the API at --server (a kubeconfig brings its own credentials)").env("SCRIPTRUN_TOKEN"))
    .option("-n, --namespace <namespace>", "namespace of the runs (else the context's, or the API's default)")
    .addHelpText("after", EXIT_CODES);
  const globals = (command: Command): Globals => {
    const all = command.optsWithGlobals() as Record<string, string | undefined>;
    const picked: Globals = {};
    for (const key of GLOBAL_KEYS) if (all[key] !== undefined) picked[key] = all[key];
    return picked;
  };

  runOptions(program.command("run"))
    .description("run a script and wait for it: shows its phase while it waits, prints its stdout and stderr, then its result")
    .addOption(outputOption(["json", "yaml"]))
    .addHelpText("after", `
Examples:
  ${name} run job.py --arg 6 --arg 7
  ${name} run report.py --kwargs '{"city": "Oslo"}' --runtime python-datascience --timeout 60
  echo 'print("hi")' | ${name} run - --mode script
${EXIT_CODES}`)
    .action((file: string, opts: Record<string, unknown>, command: Command) =>
      done({ command: "run", globals: globals(command), file, options: runOptionsOf(opts), output: (opts.output as Format | undefined) ?? "table" }));

  runOptions(program.command("submit"))
    .description("start a run without waiting for it, and print its name")
    .addOption(outputOption(["json", "yaml"]))
    .action((file: string, opts: Record<string, unknown>, command: Command) =>
      done({ command: "submit", globals: globals(command), file, options: runOptionsOf(opts), output: (opts.output as Format | undefined) ?? "table" }));

  program.command("get")
    .description("show a run: its phase, duration and result, or with -o json|yaml all of it (spec, status, stdout, stderr, error)")
    .argument("<name>", "the run's name")
    .addOption(outputOption(["json", "yaml", "wide", "name"]))
    .action((runName: string, opts: { output?: Format }, command: Command) =>
      done({ command: "get", globals: globals(command), name: runName, output: opts.output ?? "table" }));

  program.command("list").alias("ls")
    .description("list the runs of the namespace, oldest first")
    .addOption(outputOption(["json", "yaml", "wide", "name"]))
    .action((opts: { output?: Format }, command: Command) => done({ command: "list", globals: globals(command), output: opts.output ?? "table" }));

  program.command("logs")
    .description("print a finished run's stdout and stderr; with -f, print them as the run goes, until it finishes")
    .argument("<name>", "the run's name")
    .option("-f, --follow", "print the run's output as it comes, until the run finishes", false)
    .action((runName: string, opts: { follow: boolean }, command: Command) =>
      done({ command: "logs", globals: globals(command), name: runName, follow: opts.follow }));

  program.command("cancel")
    .description("cancel a run: its pod is stopped and it fails with error type cancelled")
    .argument("<name>", "the run's name")
    .action((runName: string, _opts: unknown, command: Command) => done({ command: "cancel", globals: globals(command), name: runName }));

  program.command("runtimes")
    .description("list the ScriptRuntimes a run can name with --runtime: their defaults and maxima (timeout/cpu/memory) "
      + "and the modules they add; with --server, those a run in the namespace may use")
    .addOption(outputOption(["json", "yaml", "wide", "name"]))
    .action((opts: { output?: Format }, command: Command) => done({ command: "runtimes", globals: globals(command), output: opts.output ?? "table" }));

  program.command("completion")
    .description(`print a shell completion script: source <(${name} completion bash), or for zsh source <(${name} completion zsh)`)
    .addArgument(new Argument("<shell>", "the shell").choices(["bash", "zsh"]))
    .action((shell: Shell, _opts: unknown, command: Command) => done({ command: "completion", globals: globals(command), shell }));

  return program;
}

/** Parses the words after the program's name into what to do. Throws commander's CommanderError
 * when it printed help (exitCode 0) or refused the words (it printed why). */
export function parseCommandLine(name: string, words: string[], out: Output): Invocation {
  let invocation: Invocation | undefined;
  buildProgram(name, out, (i) => {
    invocation = i;
  }).parse(words, { from: "user" });
  if (!invocation) throw new Error("No command ran");
  return invocation;
}

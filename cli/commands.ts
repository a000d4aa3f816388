// What each command does, given where runs live (a Backend) and where to print (Io). The exit code
// is what each returns: 0 done (for run: the script succeeded), 1 the script failed, 2 (run) the
// controller refused the run as invalid; other failures are CliErrors (errors.ts) with their own codes.
import { type Phase, isFinished } from "../crds/schema.js";
import type { Backend, Outcome, RunRef } from "./backend.js";
import { CliError, EXIT, asCliError, failed } from "./errors.js";
import { type Format, errorText, runTable, runtimeTable, structured, summaryOf } from "./format.js";
import { Progress, type StatusStream } from "./progress.js";
import { type Inputs, type RunOptions, buildSpec, readScript, readStdinOption } from "./spec.js";

export interface Io extends Inputs {
  stdout: { write(text: string): unknown };
  stderr: StatusStream;
  now(): number;
}

export interface Common {
  backend: Backend;
  io: Io;
  namespace: string | undefined;
  /** Fires on Ctrl-C: a wait stops, the run goes on. */
  signal: AbortSignal;
}

/** Prints a followed run's output as it comes (the API's `output` events), and at the end what of
 * the outcome's it has not printed yet: all of it, from a backend that sends no output events. */
export class OutputPrinter {
  private readonly had = { stdout: 0, stderr: 0 };

  constructor(private readonly io: Io, private readonly around: (write: () => void, endsLine: boolean) => void = (write) => write()) {}

  output(stream: "stdout" | "stderr", offset: number, text: string): void {
    const end = offset + Buffer.byteLength(text);
    if (end <= this.had[stream]) return;
    this.had[stream] = end;
    this.around(() => (stream === "stdout" ? this.io.stdout : this.io.stderr).write(text), text.endsWith("\n"));
  }

  rest(outcome: Pick<Outcome, "stdout" | "stderr">): void {
    for (const stream of ["stdout", "stderr"] as const) {
      const all = Buffer.from(outcome[stream] ?? "");
      if (all.length > this.had[stream]) this.output(stream, this.had[stream], all.subarray(this.had[stream]).toString());
    }
  }
}

/** Follows the run, just created or read, to its end: its outcome, "deleted" when it went first, or
 * undefined when the wait was stopped. `note` tells the user what keeps the wait from seeing the run for now. */
async function outcomeOf(common: Common, ref: RunRef, onPhase: (phase: Phase, queuePosition: number | undefined) => void,
  printer?: OutputPrinter, note: (message: string) => void = (message) => common.io.stderr.write(`${message}\n`)) {
  for await (const event of common.backend.follow(ref, common.signal, true)) {
    if (event.type === "phase") onPhase(event.phase, event.queuePosition);
    else if (event.type === "interrupted") note(event.message);
    else if (event.type === "output") printer?.output(event.stream, event.offset, event.text);
    else if (event.type === "finished") return event.outcome;
    else return "deleted";
  }
  return undefined;
}

const deleted = (ref: RunRef) => failed(`Run ${ref.name} was deleted before it finished`);

function stopped(common: Common, ref: RunRef): number {
  common.io.stderr.write(`\nStopped waiting; run ${ref.name} goes on (scriptrun get ${ref.name}, scriptrun cancel ${ref.name})\n`);
  return EXIT.interrupted;
}

/** Writes the script's stdout and stderr where this process writes its own. */
function printOutput(io: Io, outcome: Pick<Outcome, "stdout" | "stderr">): void {
  if (outcome.stdout) io.stdout.write(outcome.stdout);
  if (outcome.stderr) io.stderr.write(outcome.stderr);
}

async function specOf(io: Io, file: string, options: RunOptions) {
  const script = await readScript(file, io);
  const stdin = await readStdinOption(options.stdin, file, io);
  return buildSpec(script, { ...options, ...(stdin !== undefined ? { stdin } : {}) });
}

export async function run(common: Common, file: string, options: RunOptions, output: Format): Promise<number> {
  const { backend, io, namespace } = common;
  const spec = await specOf(io, file, options);
  const ref = await backend.submit(spec, namespace, options.idempotencyKey);
  const progress = new Progress(io.stderr, ref.name, io.now(), io.now);
  // The script's output as it comes, unless the command prints one structured document at the end.
  const structuredAs = output === "json" || output === "yaml" ? output : undefined;
  const printer = new OutputPrinter(io, (write, endsLine) => progress.around(write, endsLine));
  let outcome: Outcome | "deleted" | undefined;
  try {
    outcome = await outcomeOf(common, ref, (phase, queuePosition) => progress.update(phase, queuePosition), structuredAs ? undefined : printer,
      (message) => progress.note(message));
  } catch (err) {
    // The run was made: told its name, the user can follow it rather than run the command again for a second.
    const error = asCliError(err, backend.where);
    throw new CliError(`${error.message}\nRun ${ref.name} was created: scriptrun get ${ref.name} shows how it goes`, error.exitCode);
  } finally {
    progress.done();
  }
  if (outcome === "deleted") throw deleted(ref);
  if (!outcome) return stopped(common, ref);
  if (structuredAs) {
    io.stdout.write(structured(outcome, structuredAs));
  } else {
    printer.rest(outcome);
    if (outcome.success && spec.mode !== "script") {
      if (outcome.stdout && !outcome.stdout.endsWith("\n")) io.stdout.write("\n");
      io.stdout.write(`${JSON.stringify(outcome.result)}\n`);
    }
  }
  if (outcome.success) return EXIT.ok;
  if (outcome.error) io.stderr.write(errorText(outcome.error));
  // The API refuses an invalid run (no such runtime, more than its maxima) with a 400, which exits 2;
  // the cluster takes it and the controller fails it with invalid_input, which must end the same.
  return outcome.error?.type === "invalid_input" ? EXIT.usage : EXIT.failed;
}

export async function submit(common: Common, file: string, options: RunOptions, output: Format): Promise<number> {
  const ref = await common.backend.submit(await specOf(common.io, file, options), common.namespace, options.idempotencyKey);
  common.io.stdout.write(output === "json" || output === "yaml" ? structured(ref, output) : `${ref.name}\n`);
  return EXIT.ok;
}

export async function get(common: Common, name: string, output: Format): Promise<number> {
  const view = await common.backend.get(name, common.namespace);
  const { io } = common;
  if (output === "json" || output === "yaml") io.stdout.write(structured(view, output));
  else if (output === "name") io.stdout.write(`${view.name}\n`);
  else io.stdout.write(runTable([summaryOf(view)], output === "wide", io.now()));
  return EXIT.ok;
}

export async function list(common: Common, output: Format): Promise<number> {
  const runs = (await common.backend.list(common.namespace))
    .sort((a, b) => (a.createdAt ?? "").localeCompare(b.createdAt ?? "") || a.name.localeCompare(b.name));
  const { io } = common;
  if (output === "json" || output === "yaml") io.stdout.write(structured({ items: runs }, output));
  else if (output === "name") io.stdout.write(runs.map((r) => `${r.name}\n`).join(""));
  else if (runs.length === 0) io.stderr.write(`No runs in ${common.namespace !== undefined ? `namespace ${common.namespace}` : "the default namespace"}\n`);
  else io.stdout.write(runTable(runs, output === "wide", io.now()));
  return EXIT.ok;
}

/** The run's stdout and stderr; with `follow`, as it comes (from the API's output events, or from
 * the cluster the runner pod's log). */
export async function logs(common: Common, name: string, follow: boolean): Promise<number> {
  const view = await common.backend.get(name, common.namespace);
  if (isFinished(view.phase ?? undefined)) {
    printOutput(common.io, view);
    return EXIT.ok;
  }
  if (!follow) {
    common.io.stderr.write(`Run ${name} is ${view.phase ?? "Pending"}; logs -f follows its output\n`);
    return EXIT.ok;
  }
  const ref = { name, namespace: view.namespace };
  const printer = new OutputPrinter(common.io);
  const outcome = await outcomeOf(common, ref, () => {}, printer);
  if (outcome === "deleted") throw deleted(ref);
  if (!outcome) return stopped(common, ref);
  printer.rest(outcome);
  return EXIT.ok;
}

export async function cancel(common: Common, name: string): Promise<number> {
  const ref = await common.backend.cancel(name, common.namespace);
  common.io.stdout.write(`${ref.name}: cancel requested\n`);
  return EXIT.ok;
}

export async function runtimes(common: Common, output: Format): Promise<number> {
  const found = await common.backend.runtimes(common.namespace);
  const { io } = common;
  if (output === "json" || output === "yaml") io.stdout.write(structured({ items: found }, output));
  else if (output === "name") io.stdout.write(found.map((r) => `${r.name}\n`).join(""));
  else io.stdout.write(runtimeTable(found, output === "wide"));
  return EXIT.ok;
}

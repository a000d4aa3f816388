// What each command does, given where runs live (a Backend) and where to print (Io). The exit code
// is what each returns: 0 done (for run: the script succeeded), 1 the script failed; other
// failures are CliErrors (errors.ts) with their own codes.
import { type Phase, isFinished } from "../crds/schema.js";
import type { Backend, Outcome, RunRef } from "./backend.js";
import { EXIT, failed } from "./errors.js";
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

/** Follows the run to its end: its outcome, or undefined when the wait was stopped. */
async function outcomeOf(common: Common, ref: RunRef, onPhase: (phase: Phase, queuePosition: number | undefined) => void) {
  for await (const event of common.backend.follow(ref, common.signal)) {
    if (event.type === "phase") onPhase(event.phase, event.queuePosition);
    else if (event.type === "finished") return event.outcome;
    else throw failed(`Run ${ref.name} was deleted before it finished`);
  }
  return undefined;
}

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
  const ref = await backend.submit(spec, namespace);
  const progress = new Progress(io.stderr, ref.name, io.now(), io.now);
  let outcome: Outcome | undefined;
  try {
    outcome = await outcomeOf(common, ref, (phase, queuePosition) => progress.update(phase, queuePosition));
  } finally {
    progress.done();
  }
  if (!outcome) return stopped(common, ref);
  if (output === "json" || output === "yaml") {
    io.stdout.write(structured(outcome, output));
  } else {
    printOutput(io, outcome);
    if (outcome.success && spec.mode !== "script") {
      if (outcome.stdout && !outcome.stdout.endsWith("\n")) io.stdout.write("\n");
      io.stdout.write(`${JSON.stringify(outcome.result)}\n`);
    }
  }
  if (outcome.success) return EXIT.ok;
  if (outcome.error) io.stderr.write(errorText(outcome.error));
  return EXIT.failed;
}

export async function submit(common: Common, file: string, options: RunOptions, output: Format): Promise<number> {
  const ref = await common.backend.submit(await specOf(common.io, file, options), common.namespace);
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

/** The run's stdout and stderr; with `follow`, once it has finished. Output reaches a run's status
 * when the run ends, so before that there is nothing to print yet. */
export async function logs(common: Common, name: string, follow: boolean): Promise<number> {
  const view = await common.backend.get(name, common.namespace);
  if (isFinished(view.phase ?? undefined)) {
    printOutput(common.io, view);
    return EXIT.ok;
  }
  if (!follow) {
    common.io.stderr.write(`Run ${name} is ${view.phase ?? "Pending"}; its output comes when it finishes (logs -f waits for it)\n`);
    return EXIT.ok;
  }
  const ref = { name, namespace: view.namespace };
  const outcome = await outcomeOf(common, ref, () => {});
  if (!outcome) return stopped(common, ref);
  printOutput(common.io, outcome);
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

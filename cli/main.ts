#!/usr/bin/env node
// The `scriptrun` command (and `kubectl-scriptrun`, so that `kubectl scriptrun ...` runs it):
// parses the words (program.ts), picks where runs live (the cluster of the kubeconfig, or the API
// at --server), carries out the command (commands.ts) and exits with its code (errors.ts).
import { CommanderError } from "commander";
import type { Backend } from "./backend.js";
import * as commands from "./commands.js";
import { completionScript } from "./completion.js";
import { CliError, EXIT, asCliError, usage } from "./errors.js";
import { HttpBackend } from "./httpBackend.js";
import { KubeBackend, loadKubeConfig } from "./kubeBackend.js";
import { type Globals, type Invocation, buildProgram, parseCommandLine, programName } from "./program.js";

function backendFor(globals: Globals): Backend {
  if (globals.server !== undefined) {
    if (!/^https?:\/\/[^/]/.test(globals.server)) throw usage(`--server ${globals.server} is not an http:// or https:// URL`);
    return new HttpBackend(globals.server, globals.token);
  }
  return new KubeBackend(loadKubeConfig(globals));
}

// As bytes: spec.ts decodes them, refusing what is not UTF-8 rather than replacing it.
let stdinBytes: Promise<Uint8Array> | undefined;
async function readStdin(): Promise<Uint8Array> {
  stdinBytes ??= (async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  })();
  return stdinBytes;
}

async function carryOut(name: string, invocation: Invocation, signal: AbortSignal): Promise<number> {
  if (invocation.command === "completion") {
    process.stdout.write(completionScript(buildProgram(name, { writeOut: () => {}, writeErr: () => {} }, () => {}), invocation.shell));
    return EXIT.ok;
  }
  const backend = backendFor(invocation.globals);
  const common: commands.Common = {
    backend,
    io: { stdout: process.stdout, stderr: process.stderr, readStdin, now: Date.now },
    namespace: invocation.globals.namespace,
    signal,
  };
  try {
    switch (invocation.command) {
      case "run":
        return await commands.run(common, invocation.file, invocation.options, invocation.output);
      case "submit":
        return await commands.submit(common, invocation.file, invocation.options, invocation.output);
      case "get":
        return await commands.get(common, invocation.name, invocation.output);
      case "list":
        return await commands.list(common, invocation.output);
      case "logs":
        return await commands.logs(common, invocation.name, invocation.follow);
      case "cancel":
        return await commands.cancel(common, invocation.name);
      case "runtimes":
        return await commands.runtimes(common, invocation.output);
    }
  } catch (err) {
    throw asCliError(err, backend.where);
  }
}

async function main(): Promise<number> {
  // Output piped into a command that stopped reading (`scriptrun list | head`) ends this quietly.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => process.exit(err.code === "EPIPE" ? EXIT.ok : EXIT.failed));
  const name = programName(process.argv[1]);
  let invocation: Invocation;
  try {
    invocation = parseCommandLine(name, process.argv.slice(2), {
      writeOut: (text) => process.stdout.write(text),
      writeErr: (text) => process.stderr.write(text),
    });
  } catch (err) {
    // Commander printed the help, or why it refused the words.
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw err;
  }
  // Ctrl-C stops a wait (the run goes on in the cluster); a second one stops whatever is under way.
  const interrupt = new AbortController();
  process.once("SIGINT", () => {
    interrupt.abort();
    process.once("SIGINT", () => process.exit(130));
  });
  try {
    return await carryOut(name, invocation, interrupt.signal);
  } catch (err) {
    const error = err instanceof CliError ? err : asCliError(err, "the cluster");
    process.stderr.write(`error: ${error.message}\n`);
    return error.exitCode;
  }
}

main().then((code) => {
  process.exitCode = code;
}, (err: unknown) => {
  process.stderr.write(`error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = EXIT.failed;
});

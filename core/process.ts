// What the controller and API processes share around their main(): exit codes, signals, and the
// handling of promise rejections client-node can leave unawaited.
import type { Logger } from "./log.js";

/** Runs `main`; a configuration error exits 2 with its message alone, any other failure exits 1. */
export function runMain(what: string, main: () => Promise<void>, isConfigError: (err: unknown) => boolean): void {
  main().catch((err: unknown) => {
    if (isConfigError(err)) {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(2);
    }
    console.error(`The ${what} failed:`, err);
    process.exit(1);
  });
}

/** An AbortSignal that fires on the first SIGTERM or SIGINT. Also logs unhandled rejections rather
 * than dying of them: client-node's watch can reject a promise nobody awaits (a failed token
 * refresh, say), and the informers' restart and re-list recover from that. */
export function shutdownSignal(log: Logger, describe: () => object = () => ({})): AbortSignal {
  process.on("unhandledRejection", (reason) => log.error({ err: String(reason) }, "Caught an unhandled rejection"));
  const shutdown = new AbortController();
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      log.info({ signal, ...describe() }, "Received signal; shutting down");
      shutdown.abort();
    });
  }
  return shutdown.signal;
}

/** Resolves once `signal` has fired. */
export function aborted(signal: AbortSignal): Promise<"stopped"> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve("stopped");
    else signal.addEventListener("abort", () => resolve("stopped"), { once: true });
  });
}

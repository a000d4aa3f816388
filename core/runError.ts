// A run's error as status carries it (crds/schema.ts RunError), made in one way wherever the
// controller or the API decides one: a type, a message, and what may help.
import type { ErrorType, RunError } from "../crds/schema.js";

export function runError(type: ErrorType, message: string, suggestions: string[] = []): RunError {
  return { type, message, suggestions, availableFunctions: [] };
}

/** The pod could not run the script, or its outcome could not be read or stored. */
export function infrastructureError(message: string): RunError {
  return runError("infrastructure_error", message);
}

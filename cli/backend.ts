// What the commands need from wherever runs live, and the two ways there: the cluster itself with
// a kubeconfig, as kubectl (kubeBackend.ts), or the HTTP API with --server (httpBackend.ts). Both
// show a run as the API answers it (api/views.ts), so every command prints the same in either.
import type { Outcome, RunSummary } from "../api/schemas.js";
import type { runView } from "../api/views.js";
import type { Phase, ScriptRunSpecInput } from "../crds/schema.js";

export type { Outcome, RunSummary };
export type RunView = ReturnType<typeof runView>;

export interface RunRef {
  name: string;
  namespace: string;
}

/** What happens to a run while it is followed. The stream of a run ends with `finished` or `deleted`.
 * `interrupted`: the follow lost its way to the run for a while (the API restarting, say) and keeps
 * trying; told once until it is back. */
export type RunEvent =
  | { type: "phase"; phase: Phase; queuePosition?: number }
  | { type: "interrupted"; message: string }
  | { type: "output"; stream: "stdout" | "stderr"; offset: number; text: string }
  | { type: "finished"; outcome: Outcome }
  | { type: "deleted" };

/** A runtime as `scriptrun runtimes` shows it (and GET /runtimes answers). */
export interface RuntimeInfo {
  name: string;
  default: boolean;
  image: string;
  /** Top-level modules the image adds. */
  modules: string[];
  defaults: RuntimeLimits;
  maxima: RuntimeLimits;
}

export interface RuntimeLimits {
  timeoutSeconds: number;
  cpu: string;
  memory: string;
  pids: number;
  outputBytes: number;
}

export interface Backend {
  /** Where the commands go, as messages name it: "the cluster (context kind)" or "the API at URL". */
  readonly where: string;
  /** Creates a run in `namespace` (the backend's default when absent). With an `idempotencyKey`, a
   * run the same key made already is answered instead of a new one (the API's Idempotency-Key). */
  submit(spec: ScriptRunSpecInput, namespace: string | undefined, idempotencyKey?: string): Promise<RunRef>;
  get(name: string, namespace: string | undefined): Promise<RunView>;
  /** Every run of the namespace. */
  list(namespace: string | undefined): Promise<RunSummary[]>;
  /** Asks for the run to be cancelled; a CliError when it finished already or is not there. */
  cancel(name: string, namespace: string | undefined): Promise<RunRef>;
  /** The run's events until it finished or was deleted, the current phase first. `known`: this
   * process has just created or read the run, so the way to it is right and the run was there: a
   * first look that fails for a while is tried again as later ones are, and a run not found was
   * deleted meanwhile. */
  follow(ref: RunRef, signal: AbortSignal, known?: boolean): AsyncIterable<RunEvent>;
  /** The runtimes runs can name: with the API, those a run in `namespace` may use; with the
   * cluster, every runtime whose spec is usable. */
  runtimes(namespace: string | undefined): Promise<RuntimeInfo[]>;
}

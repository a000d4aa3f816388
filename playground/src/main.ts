// The playground page (playground/index.html): write or pick a script, Run it (start it with
// POST /runs and follow its phases over GET /runs/:name/events until the outcome comes) or Submit
// it (start it and follow it in Recent runs), cancel it, and read the result, stdout, stderr and the
// error, whose line is marked in the editor. With Kubernetes auth on, a 401 asks for a token.
import { Api, type RuntimeInfo } from "./api.js";
import { ScriptEditor } from "./editor.js";
import { EXAMPLES, type Example } from "./examples.js";
import { OneRun } from "./oneRun.js";
import { RunTracker, type TrackedRun } from "./runs.js";
import { $, clearOutcome, drawRun, removeRun, setStatus, showFailure, showLiveOutput, showOutcome } from "./view.js";

const api = new Api();
const editor = new ScriptEditor($("editor"), () => void start(true));
const inputs = {
  example: $<HTMLSelectElement>("example"),
  mode: $<HTMLSelectElement>("mode"),
  entrypoint: $<HTMLInputElement>("entrypoint"),
  args: $<HTMLInputElement>("args"),
  kwargs: $<HTMLInputElement>("kwargs"),
  runtime: $<HTMLSelectElement>("runtime"),
  timeout: $<HTMLInputElement>("timeout"),
  namespace: $<HTMLInputElement>("namespace"),
};
const buttons = { run: $<HTMLButtonElement>("run"), submit: $<HTMLButtonElement>("submit"), cancel: $<HTMLButtonElement>("cancel") };

/** The run the Run button waits for, and the script it ran (to mark the error's line in). */
const waiting = new OneRun<{ run: TrackedRun; script: string }>();
let runtimes: RuntimeInfo[] = [];

// ---- token (Kubernetes auth) ----

function showAuthState(): void {
  const has = api.token !== null;
  $("auth-state").textContent = has ? "Using the token given in this tab." : "";
  $("forget-token").hidden = !has;
}

api.onAuthFailure = (failure) => {
  // 401: no token, or one the cluster refused. 403: the token's user may not do this here.
  $("token-panel").hidden = false;
  $("token-reason").textContent = failure.plain;
  if (failure.status === 401) $("token").focus();
};

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  api.token = $<HTMLInputElement>("token").value.trim();
  $<HTMLInputElement>("token").value = "";
  $("token-panel").hidden = true;
  showAuthState();
  void loadRuntimes();
});

$("forget-token").addEventListener("click", () => {
  api.token = null;
  showAuthState();
  void loadRuntimes();
});

// ---- runtimes ----

function showRuntimeLimits(): void {
  const runtime = runtimes.find((r) => r.name === inputs.runtime.value);
  if (!runtime) return;
  inputs.timeout.max = String(runtime.maxima.timeoutSeconds);
  inputs.timeout.placeholder = `default ${runtime.defaults.timeoutSeconds}, at most ${runtime.maxima.timeoutSeconds}`;
}

async function loadRuntimes(): Promise<void> {
  const namespace = inputs.namespace.value.trim();
  try {
    const answer = await api.call<{ namespace: string; items: RuntimeInfo[] }>("GET", `runtimes${namespace ? `?namespace=${encodeURIComponent(namespace)}` : ""}`);
    runtimes = answer.items;
    inputs.namespace.placeholder = answer.namespace;
    const chosen = inputs.runtime.value;
    inputs.runtime.replaceChildren(...runtimes.map((r) => {
      const option = document.createElement("option");
      option.value = r.name;
      option.textContent = `${r.name}${r.default ? " (default)" : ""}${r.modules.length > 0 ? `: adds ${r.modules.join(", ")}` : ""}`;
      return option;
    }));
    inputs.runtime.value = runtimes.some((r) => r.name === chosen) ? chosen : (runtimes.find((r) => r.default) ?? runtimes[0])?.name ?? "";
    showRuntimeLimits();
    $("token-panel").hidden = true;
    if (runtimes.length === 0) setStatus(`No runtime may be used in namespace ${answer.namespace}`, true);
    else if (!waiting.busy) setStatus("Pick an example or write a script, then Run.");
  } catch (err) {
    showFailure(err as Error);
  }
}

inputs.runtime.addEventListener("change", showRuntimeLimits);
inputs.namespace.addEventListener("change", () => void loadRuntimes());

// ---- the request ----

function showModeFields(): void {
  const script = inputs.mode.value === "script";
  for (const input of [inputs.entrypoint, inputs.args, inputs.kwargs]) input.disabled = script;
}
inputs.mode.addEventListener("change", showModeFields);

function parseJson(input: HTMLInputElement, what: string, isRight: (value: unknown) => boolean): unknown {
  try {
    const value = JSON.parse(input.value || (what === "array" ? "[]" : "{}")) as unknown;
    if (isRight(value)) return value;
  } catch {
    // told below
  }
  input.setAttribute("aria-invalid", "true");
  throw new Error(`${input.id} must be a JSON ${what}, e.g. ${what === "array" ? '[1, "two"]' : '{"name": "Ada"}'}`);
}

/** The body of POST /runs from the form; throws, naming the field, when a field is wrong. */
function requestBody(): Record<string, unknown> {
  for (const input of [inputs.args, inputs.kwargs]) input.removeAttribute("aria-invalid");
  const body: Record<string, unknown> = { script: editor.text, mode: inputs.mode.value };
  if (inputs.mode.value === "function") {
    if (inputs.entrypoint.value.trim()) body.entrypoint = inputs.entrypoint.value.trim();
    body.args = parseJson(inputs.args, "array", Array.isArray);
    body.kwargs = parseJson(inputs.kwargs, "object", (v) => typeof v === "object" && v !== null && !Array.isArray(v));
  }
  if (inputs.runtime.value) body.runtime = inputs.runtime.value;
  if (inputs.timeout.value) body.timeoutSeconds = Number(inputs.timeout.value);
  if (inputs.namespace.value.trim()) body.namespace = inputs.namespace.value.trim();
  return body;
}

// ---- running ----

function phaseText(run: TrackedRun): string {
  const queued = run.queuePosition !== undefined ? ` (position ${run.queuePosition} in the queue)` : "";
  return `${run.name}: ${run.phase ?? "…"}${queued}`;
}

/** Starts the form's run; `wait` (Run) shows its phases and then its outcome here. */
async function start(wait: boolean): Promise<void> {
  if (wait && waiting.busy) return;
  const problem = $("form-problem");
  let body: Record<string, unknown>;
  try {
    body = requestBody();
    problem.hidden = true;
  } catch (err) {
    problem.textContent = (err as Error).message;
    problem.hidden = false;
    return;
  }
  if (wait) {
    buttons.run.disabled = true;
    clearOutcome();
    editor.markError(null);
  }
  setStatus("Starting the run…");
  const post = async () => {
    const ref = await api.call<{ name: string; namespace: string }>("POST", "runs", body);
    return { run: tracker.add(ref.name, ref.namespace), script: String(body.script) };
  };
  try {
    if (wait) {
      // Taken before POST /runs is sent: Ctrl+Enter again meanwhile starts nothing.
      const started = await waiting.start(post);
      if (!started) return;
      buttons.cancel.disabled = false;
      setStatus(phaseText(started.run));
    } else {
      const { run } = await post();
      setStatus(`Submitted ${run.name}: follow it in Recent runs.`);
    }
  } catch (err) {
    showFailure(err as Error);
    if (wait) buttons.run.disabled = false;
  }
}

function finishWaiting(): void {
  waiting.finish();
  buttons.run.disabled = false;
  buttons.cancel.disabled = true;
}

async function cancel(run: TrackedRun): Promise<void> {
  try {
    await tracker.cancel(run);
    // Unless its stream already brought the cancelled outcome.
    if (!run.outcome) setStatus(`Cancelling ${run.name}…`);
  } catch (err) {
    showFailure(err as Error);
  }
}

async function showRun(run: TrackedRun): Promise<void> {
  try {
    const view = await api.call<Parameters<typeof showOutcome>[0]>("GET", `runs/${encodeURIComponent(run.name)}?namespace=${encodeURIComponent(run.namespace)}`);
    showOutcome(view);
    setStatus(`${run.name}: ${view.phase ?? "…"}`);
  } catch (err) {
    showFailure(err as Error);
  }
}

function changed(run: TrackedRun): void {
  const position = tracker.all.indexOf(run);
  if (position < 0) {
    removeRun(run.name);
    return;
  }
  drawRun(run, position, { show: () => void showRun(run), cancel: () => void cancel(run) });
  const waitingFor = waiting.waitingFor;
  if (waitingFor?.run !== run) return;
  if (run.outcome) {
    const line = showOutcome(run.outcome);
    // Only where the script still is the one that ran.
    if (line !== undefined && editor.text === waitingFor.script) editor.markError(line);
    setStatus(`${run.name}: ${run.outcome.phase}`);
    finishWaiting();
  } else if (run.gone) {
    setStatus(`${run.name} was deleted before it finished`, true);
    finishWaiting();
  } else {
    setStatus(phaseText(run));
    if (run.output.stdout || run.output.stderr) showLiveOutput(run);
  }
}

const tracker = new RunTracker(api, changed);

buttons.run.addEventListener("click", () => void start(true));
buttons.submit.addEventListener("click", () => void start(false));
buttons.cancel.addEventListener("click", () => {
  const waitingFor = waiting.waitingFor;
  if (waitingFor) void cancel(waitingFor.run);
});

// Ctrl+Enter (Cmd+Enter) runs from anywhere on the page; the editor handles its own.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey) || event.defaultPrevented) return;
  event.preventDefault();
  void start(true);
});

// ---- examples ----

function loadExample(example: Example): void {
  editor.text = example.script;
  inputs.mode.value = example.mode ?? "function";
  inputs.entrypoint.value = example.entrypoint ?? "main";
  inputs.args.value = JSON.stringify(example.args ?? []);
  inputs.kwargs.value = JSON.stringify(example.kwargs ?? {});
  inputs.timeout.value = example.timeoutSeconds === undefined ? "" : String(example.timeoutSeconds);
  showModeFields();
}

inputs.example.replaceChildren(...EXAMPLES.map((example) => {
  const option = document.createElement("option");
  option.value = example.id;
  option.textContent = example.title;
  return option;
}));
inputs.example.addEventListener("change", () => {
  const example = EXAMPLES.find((e) => e.id === inputs.example.value);
  if (example) loadExample(example);
});

loadExample(EXAMPLES[0]!);
showAuthState();
tracker.restore();
void loadRuntimes();

// Drawing what the API answered: an outcome (result, stdout, stderr, the error in full), a failed
// call, and a row of the Recent runs table. Everything a script produced is untrusted, so it goes
// into the page as text (textContent), never as markup.
import { type ApiFailure, type Outcome } from "./api.js";
import type { TrackedRun } from "./runs.js";

export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`The page has no #${id}`);
  return element as T;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, text = "", className = ""): HTMLElementTagNameMap[K] {
  const made = document.createElement(tag);
  made.textContent = text;
  if (className) made.className = className;
  return made;
}

export function setStatus(text: string, problem = false): void {
  const status = $("status");
  status.textContent = text;
  status.className = problem ? "problem" : "muted";
}

/** A call the API refused, as plainly as it said it (401 and 403 included), with zod's issues. */
export function showFailure(failure: ApiFailure | Error): void {
  if (!("status" in failure)) {
    setStatus(`The API did not answer: ${failure.message}`, true);
    return;
  }
  const issues = failure.issues.map((i) => `\n  ${i.path.join(".") || "body"}: ${i.message}`).join("");
  setStatus(`${failure.plain}${issues && failure.issues.length > 1 ? issues : ""}`, true);
}

const resultText = (result: unknown) => (result === undefined ? "" : JSON.stringify(result, null, 2));

/** Shows `outcome`; returns the line its error points at, if any. */
export function showOutcome(outcome: Outcome): number | undefined {
  $("outcome").hidden = false;
  const verdict = $("verdict");
  const duration = outcome.durationMs === null ? "" : ` in ${outcome.durationMs} ms`;
  const name = outcome.name ?? "(no run: refused before one was made)";
  verdict.textContent = outcome.success ? `${name} succeeded${duration}` : `${name} ${outcome.phase === "Failed" ? "failed" : "ended"}${duration}` +
    (outcome.exitCode !== null ? ` (exit code ${outcome.exitCode})` : "");
  verdict.className = outcome.success ? "ok" : "failed";
  $("result").textContent = resultText(outcome.result);
  $("stdout").textContent = outcome.stdout;
  $("stderr").textContent = outcome.stderr;

  const error = outcome.error;
  $("error-block").hidden = error === null;
  if (error === null) return undefined;
  $("error-type").textContent = error.type;
  $("error-message").textContent = error.message;
  const line = $("error-line");
  line.hidden = error.line === undefined;
  line.textContent = error.line === undefined ? "" : `At line ${error.line} of the script (marked in the editor).`;
  $("error-suggestions").replaceChildren(...(error.suggestions ?? []).map((s) => element("li", s)));
  const functions = error.availableFunctions ?? [];
  $("error-functions").hidden = functions.length === 0;
  $("error-functions").textContent = `Functions the script defines: ${functions.join(", ")}`;
  $("error-traceback-block").hidden = !error.traceback;
  $("error-traceback").textContent = error.traceback ?? "";
  return error.line;
}

/** A run still running: what it printed so far. */
export function showLiveOutput(run: TrackedRun): void {
  $("outcome").hidden = false;
  const verdict = $("verdict");
  verdict.textContent = `${run.name} is running`;
  verdict.className = "";
  $("result").textContent = "";
  $("error-block").hidden = true;
  $("stdout").textContent = run.output.stdout;
  $("stderr").textContent = run.output.stderr;
}

export function clearOutcome(): void {
  $("outcome").hidden = true;
  for (const id of ["verdict", "error-type", "error-message", "result", "stdout", "stderr"]) $(id).textContent = "";
}

function summaryOf(run: TrackedRun): string {
  if (run.gone) return "deleted";
  const outcome = run.outcome;
  if (!outcome) return run.queuePosition !== undefined ? `queued, position ${run.queuePosition}` : "";
  if (outcome.error) return `${outcome.error.type}: ${outcome.error.message}`;
  return resultText(outcome.result) ?? "";
}

/** The row of `run` in the Recent runs table, made or updated in place. */
export function drawRun(run: TrackedRun, position: number, actions: { show: () => void; cancel: () => void }): void {
  const body = $("runs");
  const id = `run-row-${run.name}`;
  let row = document.getElementById(id) as HTMLTableRowElement | null;
  if (!row) {
    row = element("tr");
    row.id = id;
    row.dataset.run = run.name;
    body.insertBefore(row, body.children[position] ?? null);
  }
  const phase = run.gone ? "Deleted" : run.phase ?? "…";
  const cancel = element("button", "Cancel");
  cancel.type = "button";
  cancel.className = "cancel";
  cancel.disabled = run.gone === true || run.outcome !== undefined;
  cancel.setAttribute("aria-label", `Cancel ${run.name}`);
  cancel.addEventListener("click", actions.cancel);
  const show = element("button", "Show");
  show.type = "button";
  show.className = "show";
  show.setAttribute("aria-label", `Show the outcome of ${run.name}`);
  show.disabled = run.gone === true;
  show.addEventListener("click", actions.show);
  const summary = summaryOf(run);
  const summaryCell = element("td", summary, "summary");
  summaryCell.title = summary;
  const actionsCell = element("td", "", "actions");
  actionsCell.append(show, cancel);
  // Redrawn on every phase: a button that had the keyboard's focus keeps it.
  const focused = row.contains(document.activeElement) ? (document.activeElement as HTMLElement).className : undefined;
  row.replaceChildren(
    element("td", run.name),
    element("td", phase, `phase phase-${phase}`),
    element("td", run.outcome?.durationMs != null ? `${run.outcome.durationMs} ms` : ""),
    summaryCell,
    actionsCell,
  );
  if (focused) row.querySelector<HTMLElement>(`button.${focused}`)?.focus();
  $("runs-empty").hidden = body.children.length > 0;
}

export function removeRun(name: string): void {
  document.getElementById(`run-row-${name}`)?.remove();
}

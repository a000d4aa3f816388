// The behaviour cases of ../shared/cases/*.json (a request and what must come
// back), read from there, and the one function that checks an outcome against
// a case's expectations. The operator and API tests both use it; the harness's
// pytest twin is images/runner/tests/cases.py.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Outcome as ApiOutcome } from "../api/schemas.js";

export interface CaseExpectation {
  success?: boolean;
  result?: unknown;
  stdout?: string;
  stdoutLines?: number;
  resultLength?: number;
  errorType?: string;
  errorTypeIn?: string[];
  errorLine?: number;
  availableFunctions?: string[];
  messageContains?: string;
  stderrContains?: string;
  exitCode?: number;
  maxSeconds?: number;
  stdoutMaxBytes?: number;
}

export interface BehaviourCase {
  name: string;
  about: string;
  request: Record<string, unknown> & { script: string };
  expect: CaseExpectation;
}

/** What came back from a run, as the API answers it (ScriptRun status is read into the same shape). */
export type Outcome = Pick<ApiOutcome, "success"> & Partial<Pick<ApiOutcome, "result" | "stdout" | "stderr" | "exitCode" | "error">>;

const here = dirname(fileURLToPath(import.meta.url));
export const CASES_DIR = process.env.SCRIPTRUN_CASES_DIR ?? resolve(here, "..", "..", "shared", "cases");

export function loadCases(): BehaviourCase[] {
  return readdirSync(CASES_DIR)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(CASES_DIR, f), "utf8")) as BehaviourCase);
}

/** Runs `check` (which throws on a mismatch) for every case, `batch` at a time, and returns the
 * failures, so that one test reports every case that went wrong, not only the first. */
export async function caseFailures(cases: BehaviourCase[], batch: number, check: (c: BehaviourCase) => Promise<void>): Promise<string[]> {
  const failures: string[] = [];
  for (let i = 0; i < cases.length; i += batch) {
    await Promise.all(cases.slice(i, i + batch).map(async (c) => {
      try {
        await check(c);
      } catch (err) {
        failures.push((err as Error).message.slice(0, 800));
      }
    }));
  }
  return failures;
}

/** Asserts that `outcome`, which took `seconds`, is what the case expects. */
export function assertMatchesCase(c: BehaviourCase, outcome: Outcome, seconds: number): void {
  const e = c.expect;
  const why = `case ${c.name}: ${JSON.stringify({ ...outcome, stdout: outcome.stdout?.slice(0, 200) })}`;
  if (e.success !== undefined) assert.equal(outcome.success, e.success, why);
  if ("result" in e) assert.deepEqual(outcome.result, e.result, why);
  if (e.stdout !== undefined) assert.equal(outcome.stdout, e.stdout, why);
  if (e.stdoutLines !== undefined) assert.equal(outcome.stdout?.split("\n").filter(Boolean).length, e.stdoutLines, why);
  if (e.resultLength !== undefined) assert.equal((outcome.result as unknown[]).length, e.resultLength, why);
  if (e.errorType !== undefined) assert.equal(outcome.error?.type, e.errorType, why);
  if (e.errorTypeIn !== undefined) assert.ok(e.errorTypeIn.includes(outcome.error?.type ?? ""), why);
  if (e.errorLine !== undefined) assert.equal(outcome.error?.line, e.errorLine, why);
  if (e.availableFunctions !== undefined) assert.deepEqual(outcome.error?.availableFunctions, e.availableFunctions, why);
  if (e.messageContains !== undefined) assert.ok(outcome.error?.message.includes(e.messageContains), why);
  if (e.stderrContains !== undefined) assert.ok(outcome.stderr?.includes(e.stderrContains), why);
  if (e.exitCode !== undefined) assert.equal(outcome.exitCode, e.exitCode, why);
  if (e.stdoutMaxBytes !== undefined) assert.ok(Buffer.byteLength(outcome.stdout ?? "") <= e.stdoutMaxBytes, why);
  if (e.maxSeconds !== undefined) assert.ok(seconds <= e.maxSeconds, `${why} took ${seconds}s`);
}

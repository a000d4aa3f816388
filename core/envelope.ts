// What the harness says, parsed without trusting it: the envelope (termination message or last
// log line), the truncated marker, and preflight answers. Anything malformed comes back as
// `invalid` with a reason, so a garbled message ends a run as infrastructure_error, never a crash.
import { z } from "zod";
import { ERROR_TYPES, type RunError, SandboxSchema } from "../crds/schema.js";
import { parseOutputFrame } from "./liveOutput.js";

/** The harness's error object; it writes null where a field does not apply. */
const HarnessErrorSchema = z.object({
  type: z.enum(ERROR_TYPES),
  message: z.string(),
  line: z.int().nullish(),
  traceback: z.string().nullish(),
  suggestions: z.array(z.string()).nullish(),
  availableFunctions: z.array(z.string()).nullish(),
});

export const EnvelopeSchema = z.object({
  success: z.boolean(),
  result: z.unknown(),
  stdout: z.string().nullish(),
  stderr: z.string().nullish(),
  stdoutTruncated: z.boolean().nullish(),
  stderrTruncated: z.boolean().nullish(),
  error: HarnessErrorSchema.nullish(),
  exitCode: z.int().nullish(),
  durationMs: z.number().min(0).nullish(),
  sandbox: SandboxSchema.nullish(),
}).refine((e) => e.success || e.error, { message: "a failed envelope must carry an error", path: ["error"] });

export const TruncatedMarkerSchema = z.object({
  truncated: z.literal(true),
  success: z.boolean(),
  exitCode: z.int().nullish(),
  errorType: z.enum(ERROR_TYPES).nullish(),
  durationMs: z.number().min(0).nullish(),
});

const PreflightAnswerSchema = z.discriminatedUnion("ok", [
  z.object({ ok: z.literal(true) }),
  z.object({ ok: z.literal(false), error: HarnessErrorSchema }),
]);

export type Envelope = z.output<typeof EnvelopeSchema>;
export type TruncatedMarker = z.output<typeof TruncatedMarkerSchema>;
export type PreflightAnswer = { ok: true } | { ok: false; error: RunError };

/** A warm runner that got no whole request exits without running anything and says why. */
const UnrunSchema = z.object({ unrun: z.literal(true), reason: z.string() });

export type TerminationMessage =
  | { kind: "envelope"; envelope: Envelope }
  | { kind: "truncated"; marker: TruncatedMarker }
  | { kind: "unrun"; reason: string }
  | { kind: "invalid"; reason: string };

function parseJson(text: string): { value: unknown } | { reason: string } {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return { reason: `not JSON (${text.length} characters)` };
  }
}

function describeIssues(error: z.ZodError): string {
  return error.issues.slice(0, 3).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
}

/** The error as status carries it: the harness's nulls dropped. */
export function toRunError(error: z.output<typeof HarnessErrorSchema>): RunError {
  return {
    type: error.type,
    message: error.message,
    ...(error.line != null ? { line: error.line } : {}),
    ...(error.traceback != null ? { traceback: error.traceback } : {}),
    suggestions: error.suggestions ?? [],
    availableFunctions: error.availableFunctions ?? [],
  };
}

/** The container's termination message (or a warm runner's one line on the attach stream): the
 * envelope, the "see the log" marker, a warm runner's "nothing was run", or garbage. */
export function parseTerminationMessage(text: string | undefined): TerminationMessage {
  if (text === undefined || text.trim() === "") return { kind: "invalid", reason: "the termination message is empty" };
  const json = parseJson(text);
  if ("reason" in json) return { kind: "invalid", reason: `the termination message is ${json.reason}` };
  const value = json.value as { truncated?: unknown; unrun?: unknown } | null;
  if (value !== null && typeof value === "object" && value.unrun === true) {
    const unrun = UnrunSchema.safeParse(value);
    return unrun.success ? { kind: "unrun", reason: unrun.data.reason }
      : { kind: "invalid", reason: `the unrun marker is malformed: ${describeIssues(unrun.error)}` };
  }
  if (value !== null && typeof value === "object" && value.truncated === true) {
    const marker = TruncatedMarkerSchema.safeParse(value);
    return marker.success ? { kind: "truncated", marker: marker.data }
      : { kind: "invalid", reason: `the truncated marker is malformed: ${describeIssues(marker.error)}` };
  }
  const envelope = EnvelopeSchema.safeParse(value);
  return envelope.success ? { kind: "envelope", envelope: envelope.data }
    : { kind: "invalid", reason: `the envelope is malformed: ${describeIssues(envelope.error)}` };
}

/** The envelope from the container log, whose last line it is, live output's frames aside. */
export function parseEnvelopeFromLog(log: string): { envelope: Envelope } | { reason: string } {
  const lines = log.split("\n").filter((l) => l.trim() !== "" && parseOutputFrame(l) === undefined);
  const last = lines[lines.length - 1];
  if (last === undefined) return { reason: "the container log is empty" };
  const json = parseJson(last);
  if ("reason" in json) return { reason: `the last line of the container log is ${json.reason}` };
  const envelope = EnvelopeSchema.safeParse(json.value);
  return envelope.success ? { envelope: envelope.data }
    : { reason: `the envelope in the container log is malformed: ${describeIssues(envelope.error)}` };
}

/** One line of the preflight server; throws on anything but a well-formed answer. */
export function parsePreflightAnswer(line: string): PreflightAnswer {
  const json = parseJson(line);
  if ("reason" in json) throw new Error(`Preflight answer is ${json.reason}`);
  const answer = PreflightAnswerSchema.safeParse(json.value);
  if (!answer.success) throw new Error(`Preflight answer is malformed: ${describeIssues(answer.error)}`);
  return answer.data.ok ? { ok: true } : { ok: false, error: toRunError(answer.data.error) };
}

// Configuration from environment variables, as a table: each variable's zod schema and its default
// (a string, as it would arrive from the environment). Both processes read their settings this way;
// each process documents its own table in its README.
import { z } from "zod";
import { isQuantity } from "./quantity.js";

export type EnvTable = Record<string, readonly [z.ZodType, string]>;

/** What each variable of `T` parses to. */
export type EnvValues<T extends EnvTable> = { [K in keyof T]: z.output<T[K][0]> };

/** A configuration that cannot be used; the message names every bad variable. */
export class ConfigError extends Error {}

export const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
export const bool = z.enum(["true", "false", "1", "0", "yes", "no"]).transform((v) => ["true", "1", "yes"].includes(v));
export const quantity = z.string().refine(isQuantity, "must be a Kubernetes quantity such as 500m or 256Mi");
export const list = z.string().transform((v) => v.split(",").map((s) => s.trim()).filter((s) => s !== ""));

/** The table's variables read from `environment`, defaults filled in; a ConfigError naming every bad one. */
export function parseEnvTable<T extends EnvTable>(table: T, environment: Record<string, string | undefined>): EnvValues<T> {
  const schema = z.object(Object.fromEntries(Object.entries(table).map(([name, [type, fallback]]) =>
    [name, z.string().default(fallback).pipe(type as z.ZodType<unknown, string>)])));
  const raw = Object.fromEntries(Object.keys(table).map((name) => [name, environment[name]]));
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`Invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  return parsed.data as EnvValues<T>;
}

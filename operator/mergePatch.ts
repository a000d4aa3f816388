// The JSON merge patch (RFC 7386) that turns one status into another, or undefined when they are
// the same, so the controller writes status only when it changed. Objects are diffed key by key;
// arrays and scalars are replaced whole; a key that should go away is set to null.
import { isDeepStrictEqual } from "node:util";

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Date);
}

/** Drops undefined values, which JSON does not carry, so they never count as a change. */
function defined(obj: Json): Json {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

export function mergePatch(current: unknown, desired: unknown): unknown {
  if (!isObject(current) || !isObject(desired)) {
    return isDeepStrictEqual(current, desired) ? undefined : desired;
  }
  const from = defined(current);
  const to = defined(desired);
  const patch: Json = {};
  for (const key of Object.keys(from)) {
    if (!(key in to)) patch[key] = null;
  }
  for (const [key, value] of Object.entries(to)) {
    if (!(key in from)) {
      patch[key] = value;
      continue;
    }
    const sub = mergePatch(from[key], value);
    if (sub !== undefined) patch[key] = sub;
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}

/** Whether a merge patch could lose part of this JSON value: a null member of an object, at any
 * depth (the apiserver reads it as "delete this key", even inside arrays). */
export function carriesNullMember(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(carriesNullMember);
  if (!isObject(value)) return false;
  return Object.values(value).some((v) => v === null || carriesNullMember(v));
}

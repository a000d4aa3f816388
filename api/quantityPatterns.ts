// What the document says of resources.cpu and resources.memory. The API takes any Kubernetes
// quantity from more than nothing (memory: from 1Mi) up to the operator's maximum, which no JSON
// Schema pattern can say in general; the document names the plain spellings below the cap
// (millicores or whole cores, Mi or Gi), so that every value it calls valid is one the API takes.
import { parseQuantity } from "../core/quantity.js";

/** A regex (no anchors) for the decimal integers 1..max, without leading zeros. */
export function upTo(max: number): string {
  if (max < 1) return "(?!)";
  const digits = String(Math.floor(max));
  const ways: string[] = [];
  if (digits.length > 1) ways.push(`[1-9][0-9]{0,${digits.length - 2}}`);
  for (let i = 0; i < digits.length; i++) {
    const low = i === 0 ? 1 : 0;
    const high = Number(digits[i]) - 1;
    if (high < low) continue;
    const rest = digits.length - i - 1;
    ways.push(`${digits.slice(0, i)}[${low}-${high}]${rest > 0 ? `[0-9]{${rest}}` : ""}`);
  }
  ways.push(digits);
  return `(${ways.join("|")})`;
}

const MI = 1024 ** 2;

/** Millicores or whole cores, more than 0 and at most `max`. */
export function cpuPattern(max: string): string {
  const cores = parseQuantity(max);
  const ways = [`${upTo(Math.floor(cores * 1000 + 1e-9))}m`, ...(cores >= 1 ? [upTo(Math.floor(cores))] : [])];
  return `^(${ways.join("|")})$`;
}

/** Mi or Gi, from 1Mi to `max`. */
export function memoryPattern(max: string): string {
  const bytes = parseQuantity(max);
  const ways = [`${upTo(Math.floor(bytes / MI))}Mi`, ...(bytes >= 1024 * MI ? [`${upTo(Math.floor(bytes / (1024 * MI)))}Gi`] : [])];
  return `^(${ways.join("|")})$`;
}

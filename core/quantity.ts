// Kubernetes resource quantities ("500m", "256Mi", "1.5G", "2e3"), as far as the controller
// needs them: to compare a request with a cap and to add the harness's headroom to memory.

const QUANTITY = /^(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?(?:\d+(?:\.\d*)?|\.\d+))?$/;

const SUFFIXES: Record<string, number> = {
  "": 1, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

export function isQuantity(text: string): boolean {
  return QUANTITY.test(text);
}

/** The quantity's value in base units (cores for CPU, bytes for memory). Throws on a malformed one.
 * Rounded to the nano, Kubernetes' own finest unit, so that spellings of one quantity are equal
 * ("700m" and "0.7" differ in the last bit of a float otherwise). */
export function parseQuantity(text: string): number {
  const match = QUANTITY.exec(text);
  if (!match) throw new Error(`'${text}' is not a Kubernetes quantity`);
  const [, number = "", suffix = ""] = match;
  const factor = /^[eE]/.test(suffix) ? 10 ** Number(suffix.slice(1)) : SUFFIXES[suffix]!;
  const value = Number(number) * factor;
  // Past 2^53 nanos a float has no fraction left to round.
  return value < 2 ** 53 / 1e9 ? Math.round(value * 1e9) / 1e9 : value;
}

/** Bytes as the shortest exact binary quantity ("320Mi"), or plain bytes. */
export function formatBytes(bytes: number): string {
  const whole = Math.ceil(bytes);
  for (const [suffix, factor] of [["Gi", 2 ** 30], ["Mi", 2 ** 20], ["Ki", 2 ** 10]] as const) {
    if (whole % factor === 0 && whole >= factor) return `${whole / factor}${suffix}`;
  }
  return String(whole);
}

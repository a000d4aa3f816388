// What the chaos scenarios run, and what each run must end with. Runs take a moment (2 to 4 s of
// sleep, so a fault lands while they run), return a value of their own, and half of them print;
// a third ask for other memory than the runtime's default, which no warm pod serves, so every
// scenario has cold runs whatever its pool holds.

export interface Expected {
  result: unknown;
  stdout: string;
}

export interface Job {
  name: string;
  /** The ScriptRun's spec (also the body of POST /execute). */
  spec: Record<string, unknown>;
  expected: Expected;
}

/** Memory no warm pod of a runtime with the built-in default (256Mi) has. */
const COLD_MEMORY = "192Mi";

/** The `i`th run of a wave named `prefix`, on `runtime`; `longer` seconds of sleep more than usual. */
export function job(prefix: string, i: number, runtime: string, longer = 0): Job {
  const prints = i % 2 === 0;
  const cold = i % 3 === 2;
  const lines = ["import time", "def main(n):", ...(prints ? ["    print('chaos run', n)"] : []),
    `    time.sleep(${2 + (i % 3) + longer})`, "    return {'n': n, 'square': n * n}"];
  return {
    name: `${prefix}-${i}`,
    spec: { script: `${lines.join("\n")}\n`, args: [i], runtime, ...(cold ? { resources: { memory: COLD_MEMORY } } : {}) },
    expected: { result: { n: i, square: i * i }, stdout: prints ? `chaos run ${i}\n` : "" },
  };
}

/** `count` runs named `prefix-0` .. `prefix-(count-1)`. */
export function wave(prefix: string, count: number, runtime: string, longer = 0): Job[] {
  return Array.from({ length: count }, (_, i) => job(prefix, i, runtime, longer));
}

/** A quick run made once the fault is undone: the system takes new work again. */
export function probe(runtime: string): Job {
  return { name: "probe", spec: { script: "def main():\n    return 'probe'\n", runtime }, expected: { result: "probe", stdout: "" } };
}

// The scripts every path runs, and how to tell that a run really gave the right answer: a
// benchmark that counts failures as fast successes measures nothing.
import type { WorkloadName } from "./options.js";

export interface Workload {
  name: WorkloadName;
  script: string;
  /** Why the outcome is wrong, or undefined when it is right. */
  check(result: unknown, stdout: string): string | undefined;
}

const PRINTED_LINES = 20_000;

export const WORKLOADS: Record<WorkloadName, Workload> = {
  hello: {
    name: "hello",
    script: "def main():\n    return \"hello\"\n",
    check: (result) => (result === "hello" ? undefined : `result ${JSON.stringify(result)}, not "hello"`),
  },
  print: {
    name: "print",
    script: `def main():\n    for i in range(${PRINTED_LINES}):\n        print(i)\n    return ${PRINTED_LINES}\n`,
    check: (result, stdout) => {
      const lines = stdout.split("\n").filter((l) => l !== "");
      if (result !== PRINTED_LINES) return `result ${JSON.stringify(result)}, not ${PRINTED_LINES}`;
      if (lines.length !== PRINTED_LINES || lines[PRINTED_LINES - 1] !== String(PRINTED_LINES - 1)) return `stdout had ${lines.length} lines`;
      return undefined;
    },
  },
  numpy: {
    name: "numpy",
    script: "import numpy as np\n\ndef main():\n    a = np.random.default_rng(7).random((300, 300))\n" +
      "    return round(float(np.linalg.norm(a @ a.T)), 3)\n",
    check: (result) => (typeof result === "number" && result > 0 ? undefined : `result ${JSON.stringify(result)}, not a positive number`),
  },
};

/** Refused by preflight before any pod exists: the API answers it without creating anything. */
export const SYNTAX_ERROR = "def main(:\n    return 1\n";

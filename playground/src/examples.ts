// Scripts to start from: the seeds' classic cases (hello, prints and a sum, numpy and pandas, a
// syntax error, a timeout) and a few that show the rest of the page (a traceback, a plain script, a
// run long enough to cancel).

export interface Example {
  id: string;
  title: string;
  script: string;
  mode?: "function" | "script";
  entrypoint?: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  timeoutSeconds?: number;
}

export const EXAMPLES: Example[] = [
  {
    id: "hello",
    title: "Hello: main() returns a string",
    script: 'def main():\n    return "Hello, World!"\n',
  },
  {
    id: "print-and-sum",
    title: "Prints and a sum",
    script: 'def main():\n    print("Processing...")\n    return sum([1, 2, 3, 4, 5])\n',
  },
  {
    id: "greet",
    title: "Arguments: args and kwargs",
    script: 'def greet(name, punctuation="!"):\n    return f"Hello, {name}{punctuation}"\n',
    entrypoint: "greet",
    args: ["ScriptRun"],
    kwargs: { punctuation: "?" },
  },
  {
    id: "numpy-pandas",
    title: "numpy and pandas",
    script: [
      "import numpy as np",
      "import pandas as pd",
      "",
      "def main():",
      '    df = pd.DataFrame({"x": np.arange(6), "group": ["a", "b"] * 3})',
      '    df["square"] = df["x"] ** 2',
      '    print(df.to_string(index=False))',
      '    return df.groupby("group")["square"].sum().to_dict()',
      "",
    ].join("\n"),
  },
  {
    id: "syntax-error",
    title: "A syntax error (the line is marked)",
    script: "def main():\n    total = 0\n    for i in range(10)\n        total += i\n    return total\n",
  },
  {
    id: "runtime-error",
    title: "An exception, with its traceback",
    script: [
      "def average(values):",
      "    return sum(values) / len(values)",
      "",
      "def main():",
      '    print("averaging nothing")',
      "    return average([])",
      "",
    ].join("\n"),
  },
  {
    id: "timeout",
    title: "A timeout: an endless loop, stopped after 2 s",
    script: "def main():\n    while True:\n        pass\n",
    timeoutSeconds: 2,
  },
  {
    id: "script-mode",
    title: "A plain script (mode script)",
    script: 'import math\n\nfor n in range(1, 6):\n    print(n, math.factorial(n))\n',
    mode: "script",
  },
  {
    id: "long-run",
    title: "A long run (cancel it)",
    script: 'import time\n\ndef main():\n    print("sleeping for two minutes", flush=True)\n    time.sleep(120)\n    return "woke up"\n',
    timeoutSeconds: 180,
  },
];

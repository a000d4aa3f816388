// The `params` convention of older single-host executors: a script whose last line is a bare
// function name is called as that function, with `params` as its keyword (object) or positional
// (array) arguments.

const PYTHON_KEYWORDS = new Set(("False None True and as assert async await break class continue def del elif else except " +
  "finally for from global if import in is lambda nonlocal not or pass raise return try while with yield").split(" "));

/** The script without its last line when that line is a bare top-level name (e.g. `custom`), and the name. */
export function splitCallee(script: string): { script: string; name: string } | undefined {
  const lines = script.split("\n");
  let last = lines.length - 1;
  while (last >= 0 && lines[last]!.trim() === "") last--;
  const line = lines[last]?.replace(/\s+$/, "") ?? "";
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(line) || PYTHON_KEYWORDS.has(line)) return undefined;
  return { script: `${lines.slice(0, last).join("\n")}\n`, name: line };
}

/** The script, entrypoint and arguments that `params` asks for. */
export function applyParams(script: string, params: unknown[] | Record<string, unknown>, entrypoint: string | undefined): {
  script: string; entrypoint: string | undefined; args?: unknown[]; kwargs?: Record<string, unknown>;
} {
  const callee = splitCallee(script);
  const call = callee ? { script: callee.script, entrypoint: callee.name } : { script, entrypoint };
  return Array.isArray(params) ? { ...call, args: params } : { ...call, kwargs: params };
}

// The layering of the TypeScript sources: crds/ (the resource) under core/ (what both processes
// need) under operator/ (the controller) and api/ (the HTTP service), which never import each
// other, and cli/ (the command line) over api/; and no import circles. A newcomer finds a concern from the folder names because of it.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, normalize, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** Which top-level folders each folder's sources may import from (its own included). */
const MAY_IMPORT: Record<string, string[]> = {
  crds: ["crds"],
  core: ["core", "crds"],
  operator: ["operator", "core", "crds"],
  api: ["api", "core", "crds"],
  // The command line shows runs as the API does, and with a kubeconfig makes them as it does.
  cli: ["cli", "api", "core", "crds"],
};

function sources(dir: string): string[] {
  return readdirSync(join(repo, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : []);
}

/** The repo-relative .ts files a source imports (relative imports only; packages are not layers). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(repo, file), "utf8");
  return [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)\.js"/g)]
    .map((m) => normalize(join(dirname(file), `${m[1]}.ts`)));
}

const files = Object.keys(MAY_IMPORT).flatMap(sources);
const graph = new Map(files.map((file) => [file, importsOf(file)]));

describe("the layering of the sources", () => {
  it("has each folder import only from the folders beneath it, tests included", () => {
    // Tests may also use the shared case checker in test/.
    const allowed = (file: string) => [...MAY_IMPORT[file.split("/")[0]!]!, ...(file.endsWith(".test.ts") ? ["test"] : [])];
    const breaks = [...graph].flatMap(([file, imports]) => imports
      .filter((target) => !allowed(file).includes(target.split("/")[0]!))
      .map((target) => `${file} imports ${relative(repo, join(repo, target))}`));
    assert.deepEqual(breaks, []);
  });

  it("has no import circle", () => {
    const state = new Map<string, "visiting" | "done">();
    const circles: string[] = [];
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "visiting") {
        circles.push([...path.slice(path.indexOf(file)), file].join(" -> "));
        return;
      }
      state.set(file, "visiting");
      for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
      state.set(file, "done");
    };
    for (const file of graph.keys()) visit(file, []);
    assert.deepEqual(circles, []);
  });

  it("sees the imports it judges", () => {
    assert.ok(graph.get("operator/reconcile.ts")?.includes("core/runs.ts"), "the import parser found nothing");
  });
});

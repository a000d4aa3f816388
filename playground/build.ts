// Bundles the playground page with esbuild: playground/src (CodeMirror 6 included) into one
// script, playground/style.css, and index.html beside them, in dist/public (or the directory
// given), which the API serves at / (api/routes/playground.ts). Nothing is fetched at run time: the
// page needs only what this writes. Kept while its inputs (these sources, the lock file that pins
// CodeMirror and esbuild) are unchanged, so `make up` pays for it once.
//
//   npx tsx playground/build.ts [OUT_DIR]
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const repo = dirname(here);
const STAMP = ".inputs";

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)]).sort();
}

/** A digest of everything the bundle is made from. */
function inputsDigest(): string {
  const hash = createHash("sha256");
  for (const file of [...files(here), join(repo, "package-lock.json")]) {
    hash.update(relative(repo, file)).update("\0").update(readFileSync(file)).update("\0");
  }
  return hash.digest("hex");
}

/** Writes the bundle into `out` unless it is there already from the same inputs; says which. */
export async function buildPlayground(out = join(repo, "dist", "public")): Promise<"built" | "up to date"> {
  const digest = inputsDigest();
  if (existsSync(join(out, STAMP)) && readFileSync(join(out, STAMP), "utf8") === digest) return "up to date";
  // Written aside and moved in whole, so that an API serving `out` never sends half a bundle.
  const partial = `${out}.partial`;
  rmSync(partial, { recursive: true, force: true });
  await build({
    // main.js and style.css, as index.html names them.
    entryPoints: { main: join(here, "src", "main.ts"), style: join(here, "style.css") },
    outdir: partial,
    bundle: true,
    format: "esm",
    minify: true,
    sourcemap: "linked",
    // What current Chromium and Firefox run (and their ESR) without transforms.
    target: ["chrome115", "firefox115"],
    legalComments: "eof",
    logLevel: "warning",
  });
  copyFileSync(join(here, "index.html"), join(partial, "index.html"));
  writeFileSync(join(partial, STAMP), digest);
  rmSync(out, { recursive: true, force: true });
  renameSync(partial, out);
  return "built";
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = resolve(process.argv[2] ?? join(repo, "dist", "public"));
  const outcome = await buildPlayground(out);
  console.log(`The playground in ${relative(process.cwd(), out) || "."} is ${outcome}`);
}

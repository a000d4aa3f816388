// The image recipes name each harness file they copy (a recipe has no globs): a module added to
// images/runner/ and left out of one would break that image at its first import. Every recipe that
// carries the harness must carry all of it.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const harness = readdirSync(join(repo, "images", "runner")).filter((f) => f.endsWith(".py")).sort();
const RECIPES = ["images/runner/Dockerfile", "images/runner/local-image.env", "images/operator/Dockerfile", "images/operator/local-image.env"];

describe("the image recipes", () => {
  for (const recipe of RECIPES) {
    it(`${recipe} copies every module of the harness`, () => {
      const text = readFileSync(join(repo, recipe), "utf8");
      assert.deepEqual(harness.filter((file) => !new RegExp(`(^|[\\s/])${file.replace(".", "\\.")}(\\s|:|$)`, "m").test(text)), []);
    });
  }
});

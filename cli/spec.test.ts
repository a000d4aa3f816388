// The script and its stdin as the command reads them: from files or this process's standard input,
// byte for byte, and refused as bad usage when they are not UTF-8 text.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CliError, EXIT } from "./errors.js";
import { readScript, readStdinOption } from "./spec.js";

const dir = mkdtempSync(join(tmpdir(), "scriptrun-spec-"));
const file = (name: string, bytes: Uint8Array | string) => {
  writeFileSync(join(dir, name), bytes);
  return join(dir, name);
};
const stdinOf = (bytes: Uint8Array) => ({ readStdin: async () => bytes });
const NOT_UTF8 = Buffer.from("a\x00b\xffc", "latin1");
const TEXT = "\ufeffa\x00b ☃ c\n";

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof CliError);
    assert.equal(err.exitCode, EXIT.usage);
    return err.message;
  }
  assert.fail("not refused");
}

describe("the script and its stdin read from files or standard input", () => {
  it("are the text they hold, byte for byte: a NUL and a BOM included", async () => {
    const text = file("text.txt", TEXT);
    assert.equal(await readScript(text, stdinOf(new Uint8Array())), TEXT);
    assert.equal(await readScript("-", stdinOf(Buffer.from(TEXT))), TEXT);
    assert.equal(await readStdinOption(`@${text}`, "job.py", stdinOf(new Uint8Array())), TEXT);
    assert.equal(await readStdinOption("@-", "job.py", stdinOf(Buffer.from(TEXT))), TEXT);
  });

  it("are refused as bad usage, naming the file, when they are not UTF-8, rather than sent with U+FFFD", async () => {
    const bin = file("bin.dat", NOT_UTF8);
    const none = stdinOf(new Uint8Array());
    assert.equal(await refusal(readScript(bin, none)), `The script ${bin} is not UTF-8 text`);
    assert.equal(await refusal(readStdinOption(`@${bin}`, "job.py", none)), `--stdin @${bin} is not UTF-8 text`);
    assert.equal(await refusal(readScript("-", stdinOf(NOT_UTF8))), "The script (standard input) is not UTF-8 text");
    assert.equal(await refusal(readStdinOption("@-", "job.py", stdinOf(NOT_UTF8))), "--stdin @- (standard input) is not UTF-8 text");
    // Cut off in the middle of a character is not UTF-8 either.
    assert.match(await refusal(readScript(file("cut.py", Buffer.from("☃").subarray(0, 2)), none)), /cut\.py is not UTF-8 text$/);
  });

  it("make the command exit 2 before anything is sent when its standard input is not UTF-8", async function () {
    this.timeout(30_000);  // a node process of its own, with tsx
    // Nothing listens on the port: a script that was read would end in exit 3, could not reach the API.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const main = fileURLToPath(new URL("./main.ts", import.meta.url));
    const command = spawnSync(process.execPath, ["--import", "tsx", main, "--server", `http://127.0.0.1:${port}`, "run", "-", "--mode", "script"],
      { input: NOT_UTF8, encoding: "utf8", timeout: 25_000 });
    assert.deepEqual([command.status, command.stderr], [EXIT.usage, "error: The script (standard input) is not UTF-8 text\n"]);
  });
});

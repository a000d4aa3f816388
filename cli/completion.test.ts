// The completion script, run by a real bash as it completes a command line.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { completionScript } from "./completion.js";
import { buildProgram } from "./program.js";

const program = () => buildProgram("scriptrun", { writeOut: () => {}, writeErr: () => {} }, () => {});

/** What bash offers for `line` (completing its last word; a trailing space starts a new one), and
 * the words a stand-in `scriptrun` was asked with, printing `answer`. */
function complete(line: string, answer?: string): { offered: string[]; asked?: string } {
  const dir = mkdtempSync(join(tmpdir(), "scriptrun-completion-"));
  writeFileSync(join(dir, "completion.bash"), completionScript(program(), "bash"));
  writeFileSync(join(dir, "job.py"), "");
  const words = line.split(" ");
  const script = `
    source completion.bash
    scriptrun() { echo "$*" > asked.txt; printf '${answer ?? ""}'; }
    COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")})
    COMP_CWORD=${words.length - 1}
    _scriptrun_complete
    printf '%s\\n' "\${COMPREPLY[@]}"`;
  const offered = execFileSync("bash", ["-c", script], { cwd: dir, encoding: "utf8" }).split("\n").filter(Boolean).sort();
  const asked = existsSync(join(dir, "asked.txt")) ? readFileSync(join(dir, "asked.txt"), "utf8").trim() : undefined;
  return { offered, ...(asked !== undefined ? { asked } : {}) };
}

const offered = (line: string) => complete(line).offered;

describe("shell completion", () => {
  it("completes commands, then each command's own options and the global ones", () => {
    assert.deepEqual(offered("scriptrun ru"), ["run", "runtimes"]);
    assert.deepEqual(offered("scriptrun --server http://x l"), ["list", "logs", "ls"]);
    assert.deepEqual(offered("scriptrun logs --f"), ["--follow"]);
    assert.deepEqual(offered("scriptrun run job.py --ti"), ["--timeout"]);
    assert.deepEqual(offered("scriptrun run --kube"), ["--kubeconfig"]);
  });

  it("completes choices and files, and nothing for free text", () => {
    assert.deepEqual(offered("scriptrun get run-a -o "), ["json", "name", "wide", "yaml"]);
    assert.deepEqual(offered("scriptrun run job.py -o "), ["json", "yaml"]);
    assert.deepEqual(offered("scriptrun run job.py --mode s"), ["script"]);
    assert.deepEqual(offered("scriptrun completion "), ["bash", "zsh"]);
    assert.deepEqual(offered("scriptrun run jo"), ["job.py"]);
    assert.deepEqual(offered("scriptrun run job.py --timeout "), []);
  });

  it("completes run and runtime names from the command itself, with the global options typed so far", () => {
    assert.deepEqual(complete("scriptrun -n team-a logs run-", "run-abc\\nrun-abd\\nother\\n"),
      { offered: ["run-abc", "run-abd"], asked: "-n team-a list -o name" });
    assert.deepEqual(complete("scriptrun --server http://x run job.py --runtime py", "python\\npython-datascience\\n"),
      { offered: ["python", "python-datascience"], asked: "--server http://x runtimes -o name" });
  });

  it("makes a zsh script that loads bash's completion", () => {
    assert.match(completionScript(program(), "zsh"), /^# zsh completion for scriptrun[^\n]*\nautoload -U \+X bashcompinit && bashcompinit\n/);
  });
});

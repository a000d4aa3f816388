// The cold path of `make up` and of the chart's alert tests on a fresh machine: cluster/lib/deps.sh,
// cluster/lib/build.sh, cluster/lib/promtool.sh and cluster/lib/kwok.sh with a cache directory that does not exist yet.
// apt-get, go and id are recording stand-ins on PATH, so this runs in a second and changes nothing
// on the host; what it proves is that every
// directory the scripts write to is created by them (CI's machine already has the cache, so it
// would never see a script that forgot).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const run = promisify(execFile);

/** Writes an executable shell script. */
function tool(dir: string, name: string, body: string): void {
  writeFileSync(join(dir, name), `#!/bin/bash\n${body}\n`);
  chmodSync(join(dir, name), 0o755);
}

describe("the install path on a fresh machine", function () {
  let work: string;
  let bin: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), "fresh-machine-"));
    bin = join(work, "bin");
    const calls = join(work, "calls");
    mkdirSync(bin);
    // Only the stand-ins and the shell's own helpers: every command deps.sh looks for is missing.
    for (const helper of ["dirname", "cat", "mkdir", "mv", "rmdir", "ln", "basename", "cut", "tail", "awk", "flock"]) {
      tool(bin, helper, `exec /usr/bin/${helper} "$@"`);
    }
    tool(bin, "id", "echo 0");
    tool(bin, "apt-get", `echo "apt-get $*" >>${calls}`);
    // go build -o DIR/ PKG...: one empty "binary" per package.
    tool(bin, "go", `echo "go $*" >>${calls}
out=; while [ $# -gt 0 ]; do case $1 in -o) out=$2; shift 2;; -ldflags) shift 2;; */*) [ -n "$out" ] && : >"$out$(/usr/bin/basename "$1")" && /usr/bin/chmod +x "$out$(/usr/bin/basename "$1")"; shift;; *) shift;; esac; done`);
    env = { HOME: join(work, "home"), PATH: bin, SCRIPTRUN_CACHE_DIR: join(work, "home", ".cache", "scriptrun") };
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  it("installs the Debian packages with a cache directory that does not exist yet", async () => {
    await run("/bin/bash", [join(repo, "cluster", "lib", "deps.sh")], { env });
    const calls = readFileSync(join(work, "calls"), "utf8");
    assert.match(calls, /^apt-get update/m);
    assert.match(calls, /^apt-get install .*\bcontainerd\b.*/m);
    assert.ok(existsSync(join(env.SCRIPTRUN_CACHE_DIR!, "apt.log")), "the apt log was not written");
  });

  it("builds every cluster binary into the versioned cache, then only what a changed recipe needs", async () => {
    await run("/bin/bash", [join(repo, "cluster", "lib", "build.sh")], { env });
    const current = join(env.SCRIPTRUN_CACHE_DIR!, "bin", "current");
    assert.deepEqual(readdirSync(current).filter((f) => !f.startsWith(".")).sort(),
      ["etcd", "helm", "kube-apiserver", "kube-controller-manager", "kube-proxy", "kube-scheduler", "kubectl", "kubelet"]);
    const helmFlags = readFileSync(join(current, ".ldflags-helm"), "utf8");
    assert.match(helmFlags, /helm\.sh\/helm\/v3\/pkg\/chartutil\.k8sVersionMinor=\d+/);
    // A second run builds nothing; a binary whose recorded flags differ is rebuilt alone.
    writeFileSync(join(work, "calls"), "");
    await run("/bin/bash", [join(repo, "cluster", "lib", "build.sh")], { env });
    assert.equal(readFileSync(join(work, "calls"), "utf8"), "");
    writeFileSync(join(current, ".ldflags-helm"), "-s -w");
    await run("/bin/bash", [join(repo, "cluster", "lib", "build.sh")], { env });
    const rebuilt = readFileSync(join(work, "calls"), "utf8").trim().split("\n");
    assert.equal(rebuilt.length, 1, rebuilt.join("\n"));
    assert.match(rebuilt[0]!, /helm\.sh\/helm\/v3\/cmd\/helm$/);
  });

  for (const [name, version, build] of [
    ["promtool", "promtool-v0.316.0", /^go build .*-tags remove_all_sd .*version\.Version=3\.16\.0 .*\/cmd\/promtool$/m],
    ["kwok", "kwok-v0.7.0", /^go build -trimpath .*-o \S+\/kwok-v0\.7\.0\.partial\/ sigs\.k8s\.io\/kwok\/cmd\/kwok$/m],
  ] as const) {
    it(`builds ${name} once, into a cache keyed by the version cluster/go/${name}/go.mod pins`, async () => {
      const tool = () => run("/bin/bash", [join(repo, "cluster", "lib", `${name}.sh`)], { env }).then((r) => r.stdout.trim());
      const path = await tool();
      assert.equal(path, join(env.SCRIPTRUN_CACHE_DIR!, "bin", version, name));
      assert.ok(existsSync(path), `${name} was not put where the script says`);
      assert.match(readFileSync(join(work, "calls"), "utf8"), build);
      writeFileSync(join(work, "calls"), "");
      assert.equal(await tool(), path);
      assert.equal(readFileSync(join(work, "calls"), "utf8"), "", "a second run builds nothing");
    });
  }
});

// The real-cluster tests' helpers are imported by unit tests too (through the bench's and chaos's
// modules), so loading them must not need a cluster: after `make down`, KUBECONFIG may still name
// the local cluster's kubeconfig, which is gone.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kubeConfig } from "./cluster/kube.js";

describe("the real-cluster tests' kubeconfig", () => {
  const saved = process.env.KUBECONFIG;
  afterEach(() => {
    if (saved === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved;
  });

  it("is kubectl's default when no file KUBECONFIG names exists, as after make down", () => {
    process.env.KUBECONFIG = join(tmpdir(), "no-such-dir", "admin.kubeconfig");
    assert.equal(kubeConfig().getCurrentCluster()?.server, "http://localhost:8080");
  });

  it("is the file KUBECONFIG names when it exists", () => {
    const file = join(mkdtempSync(join(tmpdir(), "kubeconfig-")), "config");
    writeFileSync(file, JSON.stringify({
      apiVersion: "v1", kind: "Config", "current-context": "x",
      clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:6443" } }],
      users: [{ name: "u", user: { token: "t" } }], contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
    }));
    process.env.KUBECONFIG = file;
    assert.equal(kubeConfig().getCurrentCluster()?.server, "https://127.0.0.1:6443");
  });
});

import assert from "node:assert/strict";
import { parseEnvFile } from "./machine.js";

describe("reading an env file", () => {
  it("takes KEY=value lines, unquoted, and skips comments and blanks", () => {
    assert.deepEqual(parseEnvFile("# pinned\nK8S_VERSION=v1.34.4\n\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n  # ETCD=no\n"),
      { K8S_VERSION: "v1.34.4", PRETTY_NAME: "Debian GNU/Linux 12 (bookworm)" });
  });
});

// Starts the real API as a child process against the test cluster, as it runs in production (its
// own process, its own shared watch), on a free port of the loopback.
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Build, answering, freePort, nodeArgs } from "./kube.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface ApiProcess {
  child: ChildProcess;
  url: string;
}

/** Starts the API with `env` on top of local-use defaults and waits until /readyz answers 200;
 * `output`: where its stdout and stderr go (this process's own, or an open file). */
export async function startApi(env: Record<string, string>, build: Build = "source", output: "inherit" | number = "inherit"): Promise<ApiProcess> {
  const port = await freePort();
  const child = spawn("node", nodeArgs("api/main", build), {
    cwd: repo,
    env: {
      ...process.env,
      SCRIPTRUN_API_HOST: "127.0.0.1",
      SCRIPTRUN_API_PORT: String(port),
      SCRIPTRUN_API_AUTH: "none",
      SCRIPTRUN_LOG_LEVEL: "error",
      ...env,
    },
    stdio: ["ignore", output, output],
  });
  const url = `http://127.0.0.1:${port}`;
  await answering("the API to be ready", child, `${url}/readyz`);
  return { child, url };
}

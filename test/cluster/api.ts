// Starts the real API as a child process against the test cluster, as it runs in production (its
// own process, its own shared watch), on a free port of the loopback.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { eventually } from "./kube.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface ApiProcess {
  child: ChildProcess;
  url: string;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  await new Promise((r) => server.close(r));
  if (!address || typeof address === "string") throw new Error("No port");
  return address.port;
}

/** Starts the API with `env` on top of local-use defaults and waits until /readyz answers 200. */
export async function startApi(env: Record<string, string>): Promise<ApiProcess> {
  const port = await freePort();
  const child = spawn("node", ["--import", "tsx", "api/main.ts"], {
    cwd: repo,
    env: {
      ...process.env,
      SCRIPTRUN_API_HOST: "127.0.0.1",
      SCRIPTRUN_API_PORT: String(port),
      SCRIPTRUN_API_AUTH: "none",
      SCRIPTRUN_LOG_LEVEL: "error",
      ...env,
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  await eventually("the API to be ready", async () => {
    if (child.exitCode !== null) throw new Error(`The API exited with ${child.exitCode}`);
    return (await fetch(`${url}/readyz`)).ok || undefined;
  }, 60_000);
  return { child, url };
}

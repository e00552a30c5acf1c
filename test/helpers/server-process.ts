/** Starting the server as a real process on 127.0.0.1 with a random port. */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const entry = fileURLToPath(new URL("./server-main.ts", import.meta.url));
const run = promisify(execFile);

export async function tendServer(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, ["--import", "tsx", entry, ...args]);
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

/** Spawns `tend server --config FILE` and waits for its "listening on URL" line. */
export function spawnServer(config: string): Promise<ServerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", entry, "--config", config], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr?.on("data", (c: Buffer) => {
    err += c.toString();
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m?.[1]) resolve({ child, url: m[1], stderr: () => err });
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
}

export function stop(p: ServerProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  return new Promise((resolve) => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve();
    p.child.once("exit", () => resolve());
    p.child.kill(signal);
  });
}

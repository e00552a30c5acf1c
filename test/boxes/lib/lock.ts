import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";

/**
 * An exclusive flock(2) on `path`, held until release() or until this process dies.
 * We open the file here and let flock(1) lock the inherited descriptor: the lock belongs
 * to the open file description, which stays ours after flock(1) exits, and the kernel drops
 * it when we are killed, so a crashed test run never leaves a stale lock behind.
 */
export async function withLock<T>(path: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, "a");
  try {
    await new Promise<void>((resolve, reject) => {
      const seconds = String(Math.ceil(timeoutMs / 1000));
      const child = spawn("flock", ["--exclusive", "--wait", seconds, "3"], {
        stdio: ["ignore", "ignore", "pipe", fd],
      });
      let stderr = "";
      child.stderr?.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      child.on("error", reject);
      child.on("close", (code) =>
        code === 0 ? resolve() : reject(new Error(`could not lock ${path} within ${seconds}s ${stderr}`)),
      );
    });
    return await fn();
  } finally {
    closeSync(fd);
  }
}

/**
 * Following the systemd journal: a long-lived `journalctl --follow` child (argv only), whose output
 * is handed over line by line. Used by watch mode's unit watcher (agent/watch/units.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";

export interface Follower {
  readonly pid: number | undefined;
  stop(): void;
}

/** Starts `command args`, calls `onLine` for each line it prints and `onEnd` once when it ends. */
export function followLines(
  command: string,
  args: readonly string[],
  onLine: (line: string) => void,
  onEnd: (why: string) => void,
): Follower {
  const child: ChildProcess = spawn(command, args, { stdio: ["ignore", "pipe", "ignore"] });
  let rest = "";
  let ended = false;
  const end = (why: string) => {
    if (ended) return;
    ended = true;
    onEnd(why);
  };
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) if (line) onLine(line);
  });
  child.once("error", (err) => end(err.message));
  child.once("close", (code, signal) => end(`exited with ${signal ?? code}`));
  return {
    get pid() {
      return child.pid;
    },
    stop() {
      ended = true;
      child.kill("SIGTERM");
    },
  };
}

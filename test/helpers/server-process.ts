/** Starting the server as a real process on 127.0.0.1 with a random port. */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { request } from "undici";
import { goodRecipes, TestRepo } from "./server-git.js";

const entry = fileURLToPath(new URL("./server-main.ts", import.meta.url));
const run = promisify(execFile);

export async function tendServer(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, ["--import", "tsx", entry, ...args]);
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  /** What it printed on stdout so far. */
  stdout: () => string;
}

/**
 * Spawns `tend server --config FILE` and waits for its "listening on URL" line; `nodeArgs` go to
 * node itself (e.g. `--cpu-prof` for a benchmark).
 */
export function spawnServer(config: string, nodeArgs: string[] = []): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", entry, "--config", config], {
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
      if (m?.[1]) resolve({ child, url: m[1], stderr: () => err, stdout: () => out });
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

/** A temp folder with a server.yaml following a fresh repository of the good recipes; removed in teardown. */
export function serverConfigDir(t: { teardown(fn: () => void): void }, prefix = "tend-proc-") {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const repo = new TestRepo();
  repo.commit(goodRecipes);
  const config = join(dir, "server.yaml");
  writeFileSync(
    config,
    `listen: 127.0.0.1:0\ndata_dir: ${dir}/data\nlog_level: warn\nrecipes:\n  repo: ${repo.dir}\n  branch: main\n  poll: 0\n`,
  );
  t.teardown(() => {
    repo.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, repo, config };
}

/** One JSON request to a server process: its status and parsed body (null when empty). */
export async function callJson(url: string, method: "GET" | "POST", body?: unknown, token?: string) {
  const res = await request(url, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? JSON.parse(text) : null };
}

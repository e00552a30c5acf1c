/**
 * Real agents for the push channel's tests: `tend agent daemon` processes (each run a real `tend
 * agent run` child) enrolled with a real server process on 127.0.0.1, converging files under a
 * temp folder, one recipe per node. Also the server's configuration at a fixed port, so a killed
 * server comes back at the same address.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./agent-e2e.js";
import { tendServer } from "./server-process.js";

const main = fileURLToPath(new URL("../../cli/main.ts", import.meta.url));

/** A recipe per node writing `ROOT/NODE/motd` (and, for `slow` nodes, sleeping 4 s first). */
export function pushRecipes(root: string, nodes: string[], motd: string, slow: string[] = []) {
  const files: Record<string, string> = {
    "nodes.yaml": nodes.map((n) => `- name: ${n}\n  recipes: [r-${n}]\n`).join(""),
  };
  for (const n of nodes) {
    const sleep = slow.includes(n) ? "  - exec: slow-step\n    command: /bin/sleep 4\n" : "";
    files[`r-${n}/recipe.yaml`] =
      `description: ${n}\nresources:\n${sleep}  - file: ${root}\n    ensure: directory\n` +
      `  - file: ${root}/${n}\n    ensure: directory\n` +
      `  - file: ${root}/${n}/motd\n    content: ${JSON.stringify(motd)}\n`;
  }
  return files;
}

/** A server configuration at a free fixed port; `extra` is more YAML. */
export async function pushServerConfig(dir: string, repo: string, extra = "", name = "server") {
  const port = await freePort();
  const file = join(dir, `${name}.yaml`);
  mkdirSync(join(dir, name), { recursive: true, mode: 0o700 });
  writeFileSync(
    file,
    `listen: 127.0.0.1:${port}\ndata_dir: ${join(dir, name)}\nlog_level: warn\n` +
      `recipes:\n  repo: ${repo}\n  branch: main\n  poll: 0\n${extra}`,
  );
  return { file, url: `http://127.0.0.1:${port}` };
}

export interface Daemon {
  node: string;
  stateDir: string;
  configFile: string;
  child: ChildProcess;
  /** Everything the daemon printed so far. */
  out(): string;
  /** Lines matching `re` so far. */
  count(re: RegExp): number;
  /** Waits until the output has at least `n` lines matching `re`. */
  waitFor(re: RegExp, n?: number, ms?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Enrols `node` with `server` (token from `serverConfig`), then starts its daemon. */
export async function startDaemon(o: {
  server: string;
  serverConfig: string;
  node: string;
  /** Agent configuration lines added after enrolment (schedule, splay...). */
  extra?: string;
}): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), `tend-push-${o.node}-`));
  const stateDir = join(dir, "state");
  const configFile = join(dir, "agent.yaml");
  const token = (await tendServer(["token", "create", "--config", o.serverConfig])).stdout.trim();
  await new Promise<void>((resolve, reject) => {
    const enrol = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        main,
        "agent",
        "enroll",
        "--server",
        o.server,
        "--node",
        o.node,
        "--config",
        configFile,
        "--state-dir",
        stateDir,
      ],
      { env: { ...process.env, TEND_ENROLL_TOKEN: token }, stdio: ["ignore", "ignore", "pipe"] },
    );
    let err = "";
    enrol.stderr.on("data", (c: Buffer) => {
      err += c.toString();
    });
    enrol.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`enrol ${o.node}: ${err}`))));
  });
  appendFileSync(configFile, o.extra ?? 'schedule: "0 0 1 1 *"\nsplay: 0\n');
  // TEND_RUN_SCOPE=0: runs are plain children even if this test runs under systemd.
  const child = spawn(
    process.execPath,
    ["--import", "tsx", main, "agent", "daemon", "--config", configFile],
    {
      env: { ...process.env, TEND_RUN_SCOPE: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let text = "";
  const waiters = new Set<() => void>();
  const collect = (c: Buffer) => {
    text += c.toString();
    for (const w of [...waiters]) w();
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const count = (re: RegExp) => text.split("\n").filter((l) => re.test(l)).length;
  return {
    node: o.node,
    stateDir,
    configFile,
    child,
    out: () => text,
    count,
    waitFor: (re, n = 1, ms = 60_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (count(re) < n) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${o.node}: waited ${ms} ms for ${n} × ${re}; the daemon printed:\n${text}`));
        }, ms);
        waiters.add(check);
        check();
      }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A file's content, or null when it does not exist. */
export function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** Polls `fn` until it returns something other than undefined (every 100 ms, at most `ms`). */
export async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 60_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

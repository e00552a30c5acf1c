/**
 * The e2e fleet's pieces: the agent bundle built into a temp dir, a free fixed port (so a stopped
 * server comes back at the same address), a real server process over a real git repository, and
 * admin calls over HTTP.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ServerProcess, spawnServer, tendServer } from "./server-process.js";

export function buildBundle(): string {
  const out = mkdtempSync(join(tmpdir(), "tend-bundle-"));
  execFileSync(process.execPath, ["scripts/build.mjs", out], { stdio: "inherit" });
  return join(out, "tend-agent.js");
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Fleet {
  config: string;
  url: string;
  admin: string;
  start(): Promise<ServerProcess>;
  token(uses: number): Promise<string>;
  get(path: string): Promise<unknown>;
  post(path: string, body?: unknown): Promise<unknown>;
}

export async function fleetServer(repoDir: string, bundle: string): Promise<Fleet> {
  const dir = mkdtempSync(join(tmpdir(), "tend-e2e-server-"));
  const port = await freePort();
  const config = join(dir, "server.yaml");
  writeFileSync(
    config,
    `listen: 127.0.0.1:${port}\ndata_dir: ${dir}/data\nlog_level: warn\nrecipes:\n  repo: ${repoDir}\n  branch: main\n  poll: 0\n`,
  );
  process.env.TEND_AGENT_BUNDLE = bundle;
  process.env.TEND_INSTALL_SH = join(process.cwd(), "install.sh");
  const admin = (await tendServer(["token", "create", "--admin", "--config", config])).stdout.trim();
  const url = `http://127.0.0.1:${port}`;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${admin}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  return {
    config,
    url,
    admin,
    start: () => spawnServer(config),
    token: async (uses) =>
      (await tendServer(["token", "create", "--uses", String(uses), "--config", config])).stdout.trim(),
    get: (path) => call("GET", path),
    post: (path, body) => call("POST", path, body ?? {}),
  };
}

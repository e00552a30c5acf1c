/**
 * bench/large-file: one large `source:` file from git to the managed path (issue 15: large files
 * stream end to end). A real server process on 127.0.0.1 (SQLite) follows a repository holding a
 * `--mib` MiB file; a real agent process enrols and runs once. Prints, asserting nothing:
 *
 *  - the server's RSS before, and its peak (VmHWM) after it compiled the commit and served the file;
 *  - the agent run's peak RSS (getrusage, written at exit by test/helpers/peak-rss.mjs) and time;
 *  - the same for a `--small` MiB file, measured in the same sitting, for the difference.
 *
 *   npx tsx bench/large-file.ts [--mib 256] [--small 2]
 *
 * The file is random bytes (git stores them uncompressed-ish, as a real artifact would be).
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { freePort } from "../test/helpers/agent-e2e.js";
import { tendArgv } from "../test/helpers/cli.js";
import { TestRepo } from "../test/helpers/server-git.js";
import { spawnServer, stop, tendServer } from "../test/helpers/server-process.js";

const { values } = parseArgs({
  options: { mib: { type: "string", default: "256" }, small: { type: "string", default: "2" } },
});

const statusKiB = (pid: number | undefined, field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
const mib = (kib: number) => (kib / 1024).toFixed(0);

function tend(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      tendArgv(args, true),
      { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (err, _out, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
    );
  });
}

async function once(sizeMiB: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tend-bench-large-"));
  const repo = new TestRepo();
  try {
    const target = join(dir, "out", "big.bin");
    mkdirSync(join(repo.dir, "base/files"), { recursive: true });
    const file = join(repo.dir, "base/files/big.bin");
    writeFileSync(file, "");
    for (let i = 0; i < sizeMiB; i++) writeFileSync(file, randomBytes(1024 * 1024), { flag: "a" });
    repo.commit({
      "nodes.yaml": '- name: "*"\n  recipes: [base]\n',
      "base/recipe.yaml": `description: base\nresources:\n  - file: ${join(dir, "out")}\n    ensure: directory\n  - file: ${target}\n    source: files/big.bin\n`,
    });
    const config = join(dir, "server.yaml");
    writeFileSync(
      config,
      `listen: 127.0.0.1:${await freePort()}\ndata_dir: ${dir}/data\nlog_level: warn\n` +
        `recipes:\n  repo: ${repo.dir}\n  branch: main\n  poll: 0\n` +
        `catalog:\n  max_file_bytes: ${(sizeMiB + 16) * 1024 * 1024}\n`,
    );
    const token = (await tendServer(["token", "create", "--config", config])).stdout.trim();
    const server = await spawnServer(config);
    try {
      const before = statusKiB(server.child.pid, "VmRSS");
      const agentConf = join(dir, "agent.yaml");
      const state = join(dir, "state");
      const enrol = await tend([
        "agent",
        "enroll",
        "--server",
        server.url,
        "--token",
        token,
        "--node",
        "big-1",
        "--config",
        agentConf,
        "--state-dir",
        state,
      ]);
      if (enrol.code !== 0) throw new Error(`enrol failed: ${enrol.stderr}`);
      const peakFile = join(dir, "agent-peak");
      const started = process.hrtime.bigint();
      const run = await tend(["agent", "run", "--config", agentConf], { TEND_TEST_PEAK_FILE: peakFile });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (run.code !== 2) throw new Error(`agent run exited ${run.code}: ${run.stderr}`);
      if (statSync(target).size !== sizeMiB * 1024 * 1024) throw new Error("the file did not land whole");
      const peak = statusKiB(server.child.pid, "VmHWM");
      console.log(
        `${String(sizeMiB).padStart(4)} MiB: server RSS ${mib(before)} → peak ${mib(peak)} MiB; ` +
          `agent run peak ${mib(Number(readFileSync(peakFile, "utf8")))} MiB, ${seconds.toFixed(1)} s`,
      );
    } finally {
      await stop(server);
    }
  } finally {
    repo.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`load ${loadavg()[0]!.toFixed(1)}`);
await once(Number(values.small));
await once(Number(values.mib));

/**
 * bench/watch-run: one watch repair as processes, on this machine (no box, no daemon): a real
 * server on 127.0.0.1 with a catalog of `--files` managed files (1,000 by default) under a temp
 * dir, an agent enrolled and converged once (so the signed catalog is cached in its state_dir),
 * then `--runs` times each way, interleaved: a managed file is overwritten and a watch run of the
 * agent bundle (`--bundle FILE` for another build) puts it back, started as the daemon starts it —
 * after the debounce window with `--resource ID`, or at the edit with `--resource -` and handed the
 * id when the window closes. Printed, never asserted: edit → repaired on disk and edit → run ended
 * (p50, p90, max) each way and, with `--profile DIR`, a V8 CPU profile of each run (`--cpu-prof`).
 *
 *   npx tsx bench/watch-run.ts [--files 1000] [--runs 20] [--profile DIR] [--bundle FILE] [--ways after,first]
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { DEBOUNCE_MS } from "../agent/watch/index.js";
import { buildBundle, fleetServer } from "../test/helpers/agent-e2e.js";
import { TestRepo } from "../test/helpers/server-git.js";
import { stop } from "../test/helpers/server-process.js";

const { values } = parseArgs({
  options: {
    files: { type: "string", default: "1000" },
    runs: { type: "string", default: "20" },
    profile: { type: "string" },
    bundle: { type: "string" },
    /** `after` alone for a bundle from before `--resource -`. */
    ways: { type: "string", default: "after,first" },
  },
});
const files = Number(values.files);
const runs = Number(values.runs);

const root = mkdtempSync(join(tmpdir(), "tend-watch-run-"));
const target = join(root, "target");
const resources = ["resources:", `  - file: ${target}`, "    ensure: directory"];
for (let d = 0; d < 10; d++) resources.push(`  - file: ${target}/d${d}`, "    ensure: directory");
for (let i = 0; i < files; i++)
  resources.push(`  - file: ${target}/d${i % 10}/f${i}.conf`, `    content: "managed file ${i}\\n"`);
const repo = new TestRepo();
repo.commit({
  "nodes.yaml": '- name: "*"\n  recipes: [bench]\n',
  "bench/recipe.yaml": `${resources.join("\n")}\n`,
});
const bundle = values.bundle ?? buildBundle();
const fleet = await fleetServer(repo.dir, bundle);
const server = await fleet.start();
const stateDir = join(root, "state");
const config = join(root, "agent.yaml");

const tend = (args: string[], nodeArgs: string[] = []) => {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [...nodeArgs, bundle, ...args], { encoding: "utf8" });
  const ms = performance.now() - t0;
  if (r.status !== 0 && r.status !== 2)
    throw new Error(`tend ${args.join(" ")} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return { ms, out: r.stdout };
};

try {
  const token = await fleet.token(1);
  tend([
    "agent",
    "enroll",
    "--server",
    fleet.url,
    "--token",
    token,
    "--node",
    "watch-run-1",
    "--config",
    config,
    "--state-dir",
    stateDir,
  ]);
  writeFileSync(config, `${readFileSync(config, "utf8")}watch: true\n`);
  tend(["agent", "run", "--log-line", "--config", config]);
  if (values.profile) mkdirSync(values.profile, { recursive: true });
  const prof = values.profile ? ["--cpu-prof", "--cpu-prof-dir", values.profile] : [];
  const modes = (values.ways ?? "").split(",") as ("after" | "first")[];
  const got = {
    after: { disk: [] as number[], exit: [] as number[] },
    first: { disk: [] as number[], exit: [] as number[] },
  };
  const load = loadavg()[0]!;
  for (let k = 0; k < runs * modes.length; k++) {
    const mode = modes[k % modes.length]!;
    const i = Math.floor(Math.random() * files);
    const path = `${target}/d${i % 10}/f${i}.conf`;
    const want = `managed file ${i}\n`;
    const id = `file:${path}`;
    // The same file drawn more than 5 times would become contested (the fight guard): start it over.
    rmSync(join(stateDir, "watch-guard.json"), { force: true });
    const run = ["agent", "run", "--log-line", "--config", config, "--trigger", "watch", "--resource"];
    const t0 = performance.now();
    writeFileSync(path, `edited by hand ${k}\n`);
    let child: ReturnType<typeof spawn>;
    if (mode === "first") {
      // As the daemon does now: the run's process at the first event, the ids when the window closes.
      child = spawn(process.execPath, [...prof, bundle, ...run, "-"], { stdio: ["pipe", "pipe", "inherit"] });
      await sleep(DEBOUNCE_MS);
      child.stdin!.end(`${id}\n`);
    } else {
      // As it did before: the window, then the run's process with the ids.
      await sleep(DEBOUNCE_MS);
      child = spawn(process.execPath, [...prof, bundle, ...run, id], {
        stdio: ["ignore", "pipe", "inherit"],
      });
    }
    const exited = new Promise<number>((resolve) => child.once("exit", () => resolve(performance.now())));
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
    });
    for (let n = 0; readFileSync(path, "utf8") !== want; n++) {
      if (n > 5000) throw new Error(`${path} not repaired:\n${out}`);
      await sleep(2);
    }
    got[mode].disk.push(performance.now() - t0);
    got[mode].exit.push((await exited) - t0);
  }
  const q = (list: number[], p: number) => {
    const ms = [...list].sort((a, b) => a - b);
    return ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)]!.toFixed(0);
  };
  const line = (list: number[]) => `p50 ${q(list, 50)} ms, p90 ${q(list, 90)} ms, max ${q(list, 100)} ms`;
  process.stdout.write(
    [
      `one watch repair as the daemon runs it (a ${DEBOUNCE_MS} ms window, then tend agent run --trigger watch), ${files} managed files, ${runs} edits each way, interleaved; Node.js ${process.version}, load average ${load.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}`,
      ...modes.map((m) =>
        m === "after"
          ? `  run started after the window:   edit → repaired on disk ${line(got.after.disk)}; → run ended ${line(got.after.exit)}`
          : `  run started at the first event: edit → repaired on disk ${line(got.first.disk)}; → run ended ${line(got.first.exit)}`,
      ),
      "",
    ].join("\n"),
  );
} finally {
  await stop(server);
  repo.cleanup();
  rmSync(root, { recursive: true, force: true });
}

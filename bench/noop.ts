/**
 * The no-op benchmark (issue 4, item 7), on the peer kit's workload (../shared/peers): N plain 1 KiB
 * files in N/100 directories, N/20 templated files, links, a user, a group, two packages and guarded
 * execs, written as a tend repository by the kit's emit_tend.py. For each N, the whole
 * `tend apply TENDDIR --node vm --state-dir DIR` process (built CLI) is timed for the first run,
 * the no-op run and a drift repair of 10% of the files (drift.sh); verify.py checks the box after
 * every phase and the benchmark stops when it fails. Where cf-agent is installed, CFEngine's no-op
 * run on the same workload is timed in the same sitting, interleaved with tend's. Prints figures,
 * never asserts on time. Run as root on a box where /tmp/cmbench, the cmbench user and group and the
 * packages hello and tree may be created and removed (reset.sh undoes them at the end).
 *
 *   node --import tsx bench/noop.ts [SIZES=1000,5000,10000] [RUNS=5] [--cfengine=1000,5000]
 *
 * `--mixed` runs the mixed workload instead (bench/noop-mixed.ts): every resource kind in a real
 * server's proportions, in a test box, with each kind's no-op cost per resource relative to file's.
 *
 *   node --import tsx bench/noop.ts --mixed [N=1000] [RUNS=5]
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { buildCli, fmt, median, type ProcessRun, runTend } from "./lib.js";

if (process.argv.includes("--mixed")) {
  const [n = "1000", runs = "5"] = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  await (await import("./noop-mixed.js")).mixed(Number(n), Number(runs));
  process.exit(0);
}

const PEERS = process.env.TEND_PEERS ?? "/work/shared/peers";
const BASE = "/tmp/cmbench";
const ROOT = `${BASE}/ROOT`;
const NODE = "vm";
const positional = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const sizes = (positional[0] ?? "1000,5000,10000").split(",").map(Number);
const runs = Number(positional[1] ?? 5);
const cfArg = process.argv.find((a) => a.startsWith("--cfengine="));
const cfSizes = new Set((cfArg ? cfArg.slice(11) : "1000,5000").split(",").filter(Boolean).map(Number));

function sh(cmd: string, args: string[], what: string): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function verify(workload: string, phase: string): void {
  const r = spawnSync("python3", [`${PEERS}/verify.py`, workload], { encoding: "utf8" });
  if (r.status !== 0) {
    throw new Error(
      `verify.py after ${phase}: the box is not in the wanted state:\n${r.stdout.slice(-3000)}`,
    );
  }
}

function expectExit(r: ProcessRun, codes: number[], phase: string): void {
  if (!codes.includes(r.code))
    throw new Error(
      `tend apply (${phase}) exited ${r.code}:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`,
    );
}

const hasCf = spawnSync("sh", ["-c", "command -v cf-agent"]).status === 0;
const CF_MODULE = "/var/lib/cfengine3/modules/packages/apt_get";
let cfModuleMade = false;
function cfSetup(): void {
  if (existsSync(CF_MODULE)) return;
  mkdirSync(dirname(CF_MODULE), { recursive: true, mode: 0o700 });
  copyFileSync("/var/lib/cfengine3/masterfiles/modules/packages/vendored/apt_get.mustache", CF_MODULE);
  sh("chmod", ["0700", CF_MODULE], "chmod of the CFEngine apt_get module");
  cfModuleMade = true;
}

/** One CFEngine converge (the kit's tool.sh), timed from outside with GNU time. */
function cfRun(gen: string, log: string): { wallMs: number; maxRssMiB: number; cpuMs: number } {
  const out = join(tmpdir(), `tend-bench-cftime-${process.pid}`);
  const r = spawnSync(
    "/usr/bin/time",
    ["-f", "%e %M %U %S", "-o", out, "bash", `${PEERS}/tool.sh`, "cfengine", gen, log],
    {
      encoding: "utf8",
    },
  );
  if (r.status !== 0) throw new Error(`cf-agent exited ${r.status}; see ${log}`);
  const [e, m, u, s] = readFileSync(out, "utf8").trim().split("\n").pop()!.split(" ").map(Number);
  rmSync(out, { force: true });
  return { wallMs: e! * 1000, maxRssMiB: m! / 1024, cpuMs: (u! + s!) * 1000 };
}

interface Row {
  tool: string;
  n: number;
  resources: number;
  phase: string;
  wall: number[];
  cpu: number[];
  rss: number[];
  load: string;
}
const rows: Row[] = [];
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");
const record = (
  tool: string,
  n: number,
  resources: number,
  phase: string,
  rs: { wallMs: number; cpuMs: number; maxRssMiB: number }[],
  l: string,
) =>
  rows.push({
    tool,
    n,
    resources,
    phase,
    wall: rs.map((r) => r.wallMs),
    cpu: rs.map((r) => r.cpuMs),
    rss: rs.map((r) => r.maxRssMiB),
    load: l,
  });

const entry = buildCli();
const work = mkdtempSync(join(tmpdir(), "tend-bench-noop-"));
sh("apt-get", ["install", "-y", "-q", "--download-only", "hello", "tree"], "pre-downloading hello and tree");
try {
  for (const n of sizes) {
    sh("bash", [`${PEERS}/reset.sh`, ROOT], "reset.sh");
    const gen = `${BASE}/gen/${n}`;
    rmSync(gen, { recursive: true, force: true });
    sh("python3", [`${PEERS}/gen.py`, String(n), ROOT, gen], "gen.py");
    const workload = `${gen}/workload-${n}.json`;
    const resources = (JSON.parse(readFileSync(workload, "utf8")) as { resources: unknown[] }).resources
      .length;
    const repo = join(work, `tend-${n}`);
    sh("python3", [`${PEERS}/emit_tend.py`, workload, repo], "emit_tend.py");
    const stateDir = join(work, `state-${n}`);
    const apply = () => runTend(entry, ["apply", repo, "--node", NODE, "--state-dir", stateDir]);
    process.stderr.write(`N=${n}: ${resources} resources; first run…\n`);

    const first = apply();
    expectExit(first, [2], "first run");
    verify(workload, "the first run");
    record("tend", n, resources, "first", [first], load());

    const cf = hasCf && cfSizes.has(n);
    if (cf) {
      cfSetup();
      cfRun(gen, join(work, `cf-${n}.log`)); // CFEngine's own first pass (untimed): its locks, its uid
      verify(workload, "CFEngine's first run");
      expectExit(apply(), [0, 2], "after CFEngine's first run"); // take back anything CFEngine sees otherwise
    }
    const noop: ProcessRun[] = [];
    const cfNoop: ReturnType<typeof cfRun>[] = [];
    const l = load();
    for (let i = 0; i < runs; i++) {
      const r = apply();
      expectExit(r, [0], "no-op run");
      noop.push(r);
      if (cf) cfNoop.push(cfRun(gen, join(work, `cf-${n}.log`)));
    }
    verify(workload, "the no-op runs");
    record("tend", n, resources, "noop", noop, l);
    if (cf) record("cfengine", n, resources, "noop", cfNoop, l);

    const drift: ProcessRun[] = [];
    const ld = load();
    for (let i = 0; i < runs; i++) {
      sh("bash", [`${PEERS}/drift.sh`, ROOT, String(n)], "drift.sh");
      const r = apply();
      expectExit(r, [2], "drift repair");
      drift.push(r);
      verify(workload, "a drift repair");
    }
    record("tend", n, resources, "drift", drift, ld);
  }
} finally {
  spawnSync("bash", [`${PEERS}/reset.sh`, ROOT]);
  rmSync(BASE, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
  rmSync(dirname(entry), { recursive: true, force: true });
  if (cfModuleMade) rmSync(CF_MODULE, { force: true });
}

const out: string[] = [
  `no-op benchmark: peer kit workload, whole \`tend apply\` process (built CLI), median of ${runs} (first: 1 run)`,
  `node ${process.version}, ${hasCf ? "CFEngine timed in the same sitting (interleaved)" : "cf-agent not installed: no CFEngine figures"}`,
  "",
  "| tool | N | resources | phase | wall | (min-max) | cpu | peak RSS | load (1/5/15 min) |",
  "|---|---|---|---|---|---|---|---|---|",
];
for (const r of rows) {
  out.push(
    `| ${r.tool} | ${r.n} | ${r.resources} | ${r.phase} | ${fmt(median(r.wall))} | ${fmt(Math.min(...r.wall))}-${fmt(Math.max(...r.wall))} | ${fmt(median(r.cpu))} | ${median(r.rss).toFixed(0)} MiB | ${r.load} |`,
  );
}
out.push("", "per-resource cost (slope of the median between the smallest and largest N):");
for (const tool of ["tend", "cfengine"]) {
  for (const phase of ["noop", "drift"]) {
    const rs = rows.filter((r) => r.tool === tool && r.phase === phase);
    if (rs.length < 2) continue;
    const a = rs[0]!;
    const b = rs[rs.length - 1]!;
    const slope = (median(b.wall) - median(a.wall)) / (b.resources - a.resources);
    const cpu = (median(b.cpu) - median(a.cpu)) / (b.resources - a.resources);
    out.push(
      `  ${tool} ${phase} N=${a.n}->${b.n}: ${(slope * 1000).toFixed(0)} µs wall, ${(cpu * 1000).toFixed(0)} µs cpu per resource; fixed part ${fmt(median(a.wall) - slope * a.resources)}`,
    );
  }
}
process.stdout.write(`${out.join("\n")}\n`);

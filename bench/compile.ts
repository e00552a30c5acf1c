/**
 * Compile benchmark (issue 2): a generated repository with 5,000 resources and 50 templates,
 * compiled for one node. Prints whole-process wall time, CPU time (user + system) and peak RSS of
 * `tend compile` and `tend validate` (built CLI, median of RUNS), and the in-process compile time.
 * Never asserts.
 *
 *   node --import tsx bench/compile.ts [RESOURCES=5000] [RUNS=5] [--inline] [--against=ENTRY]
 *
 * By default file contents live in files/ (source:), as in a real repository; --inline writes the
 * 1 KiB contents into the YAML itself (5 MB of YAML at 5,000 resources: YAML parsing dominates).
 * --against=ENTRY also runs another build's dist/tend.js (e.g. an older commit built with
 * `node scripts/build.mjs /tmp/old-dist` in its checkout), interleaved run by run with this one so
 * that both see the same load; the outputs must be byte-identical. Wall time follows the machine's
 * load (printed); CPU time much less so.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import os, { tmpdir } from "node:os";
import { join } from "node:path";
import { fsRepo } from "../agent/repo-fs.js";
import { Compiler } from "../core/compile.js";
import { sampleFacts } from "../test/helpers/facts.js";
import { generateRepo, TEMPLATES } from "./gen-repo.js";
import { buildCli, fmt, median, type ProcessRun, runTend } from "./lib.js";

const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const inline = process.argv.includes("--inline");
const total = Number(args[0] ?? 5000);
const runs = Number(args[1] ?? 5);

const dir = mkdtempSync(join(tmpdir(), "tend-bench-compile-"));
generateRepo(dir, total, inline);
const facts = sampleFacts({ hostname: "bench-1" });
const factsFile = join(dir, "..", `${dir.split("/").pop()}-facts.json`);
writeFileSync(factsFile, JSON.stringify(facts));

const warm: number[] = [];
let resources = 0;
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  const { catalog, problems } = new Compiler(fsRepo(dir)).compile("bench-1", facts);
  warm.push(performance.now() - t0);
  if (!catalog) throw new Error(problems.map((p) => p.message).join("\n"));
  resources = catalog.resources.length;
}

const against = process.argv.find((a) => a.startsWith("--against="))?.slice("--against=".length);
const builds: [string, string][] = [["this checkout", buildCli()]];
if (against) builds.push(["--against", against]);
const loadavg = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
const loadBefore = loadavg();

interface Figures {
  wall: number;
  cpu: number;
  rss: number;
}
/** Every build RUNS times, interleaved (the order alternating), medians per build. */
const measure = (args: string[]): Figures[] => {
  const runsOf = builds.map(() => [] as ProcessRun[]);
  const stdouts = new Set<string>();
  for (let i = 0; i < runs; i++) {
    const order = builds.map((_, k) => k);
    if (i % 2) order.reverse();
    for (const k of order) {
      const r = runTend(builds[k]![1], args);
      if (r.code !== 0)
        throw new Error(`${builds[k]![0]}: tend ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
      runsOf[k]!.push(r);
      stdouts.add(r.stdout);
    }
  }
  if (stdouts.size > 1) throw new Error(`tend ${args.join(" ")}: the builds' outputs differ`);
  return runsOf.map((rs) => ({
    wall: median(rs.map((r) => r.wallMs)),
    cpu: median(rs.map((r) => r.cpuMs)),
    rss: median(rs.map((r) => r.maxRssMiB)),
  }));
};
const compileRun = measure(["compile", dir, "--node", "bench-1", "--facts", factsFile]);
const validateRun = measure(["validate", dir]);
const empty = measure(["--version"]);

const line = (label: string, figures: Figures[]) =>
  figures.map(
    (f, k) =>
      `  ${`${label}${builds.length > 1 ? ` [${builds[k]![0]}]` : ""}`.padEnd(44)} ${fmt(f.wall).padStart(7)}  CPU ${fmt(f.cpu).padStart(7)}  peak RSS ${f.rss.toFixed(0)} MiB`,
  );
process.stdout.write(
  [
    `compile benchmark: ${resources} resources, ${TEMPLATES} templates, contents ${inline ? "inline in the YAML" : "in files/"}, node bench-1 (median of ${runs})`,
    `  load average ${loadBefore} before, ${loadavg()} after (${os.cpus().length} CPUs)`,
    `  in-process compile          ${fmt(median(warm))}  (first ${fmt(warm[0]!)})`,
    ...line("tend compile (process)", compileRun),
    ...line("tend validate (process)", validateRun),
    ...line("tend --version (start-up)", empty),
    `  repository: ${dir}`,
    "",
  ].join("\n"),
);

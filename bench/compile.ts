/**
 * Compile benchmark (issue 2): a generated repository with 5,000 resources and 50 templates,
 * compiled for one node. Prints whole-process wall time and peak RSS of `tend compile` and
 * `tend validate` (built CLI, median of RUNS), and the in-process compile time. Never asserts.
 *
 *   node --import tsx bench/compile.ts [RESOURCES=5000] [RUNS=5] [--inline]
 *
 * By default file contents live in files/ (source:), as in a real repository; --inline writes the
 * 1 KiB contents into the YAML itself (5 MB of YAML at 5,000 resources: YAML parsing dominates).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fsRepo } from "../agent/repo-fs.js";
import { Compiler } from "../core/compile.js";
import { sampleFacts } from "../test/helpers/facts.js";
import { generateRepo, TEMPLATES } from "./gen-repo.js";
import { buildCli, fmt, median, runTend } from "./lib.js";

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

const entry = buildCli();
const measure = (args: string[]) => {
  const rs = Array.from({ length: runs }, () => runTend(entry, args));
  const bad = rs.find((r) => r.code !== 0);
  if (bad) throw new Error(`tend ${args.join(" ")} exited ${bad.code}: ${bad.stderr}`);
  return { wall: median(rs.map((r) => r.wallMs)), rss: median(rs.map((r) => r.maxRssMiB)) };
};
const compileRun = measure(["compile", dir, "--node", "bench-1", "--facts", factsFile]);
const validateRun = measure(["validate", dir]);
const empty = measure(["--version"]);

process.stdout.write(
  [
    `compile benchmark: ${resources} resources, ${TEMPLATES} templates, contents ${inline ? "inline in the YAML" : "in files/"}, node bench-1 (median of ${runs})`,
    `  in-process compile          ${fmt(median(warm))}  (first ${fmt(warm[0]!)})`,
    `  tend compile (process)      ${fmt(compileRun.wall)}  peak RSS ${compileRun.rss.toFixed(0)} MiB`,
    `  tend validate (process)     ${fmt(validateRun.wall)}  peak RSS ${validateRun.rss.toFixed(0)} MiB`,
    `  tend --version (start-up)   ${fmt(empty.wall)}  peak RSS ${empty.rss.toFixed(0)} MiB`,
    `  repository: ${dir}`,
    "",
  ].join("\n"),
);

/**
 * Fuzz driver (TRUST C3, C4): printed, not asserted.
 *
 *   node --import tsx bench/fuzz.ts [--target recipe|http|all] [--count N] [--seed S]
 *        [--start I] [--budget-ms MS] [--slow-ms MS] [--max-file BYTES] [--out DIR]
 *   node --import tsx bench/fuzz.ts --target recipe --repro CASE_SEED [--max-file BYTES]
 *
 * recipe: mutated repositories (test/helpers/fuzz-recipes.ts) through what the git gate runs —
 * escapingSymlinks, validateRepo and compiles — in a worker with a watchdog and a heap limit.
 * Every outcome must be success or located, coded problems; anything else (an exception, an
 * internal error in a message, a problem without a file, a hang, a memory blow-up, a slow case)
 * is a finding, saved to --out (default /tmp/tend-fuzz/) with the case seed that reproduces it.
 * http: mutated bodies against the in-process server per route (test/helpers/fuzz-http.ts).
 * Run it niced on a shared machine: `nice -n 19 node --import tsx bench/fuzz.ts ...`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { runHttpFuzz } from "../test/helpers/fuzz-http.js";
import { generateRepo, MAX_FILE, runRecipeCase, runRepo } from "../test/helpers/fuzz-recipes.js";
import { type RunStats, runRecipeFuzz, saveFinding } from "../test/helpers/fuzz-runner.js";

const { values } = parseArgs({
  options: {
    target: { type: "string", default: "all" },
    count: { type: "string" },
    seed: { type: "string", default: "1" },
    start: { type: "string", default: "0" },
    "budget-ms": { type: "string", default: "10000" },
    "slow-ms": { type: "string", default: "2000" },
    out: { type: "string", default: "/tmp/tend-fuzz" },
    repro: { type: "string" },
    "max-file": { type: "string", default: String(MAX_FILE) },
  },
});

const seed = Number(values.seed);
const out = values.out!;
const maxFile = Number(values["max-file"]);
mkdirSync(out, { recursive: true });
const rate = (n: number, ms: number) => (n / (ms / 1000)).toFixed(0);

if (values.repro !== undefined) {
  const s = Number(values.repro);
  const repo = generateRepo(s, maxFile);
  console.log(`case ${s}: ${repo.length} files, mutations: ${repo.labels?.join(", ")}`);
  for (const e of repo)
    console.log(`  ${e.symlink ? "link" : "file"} ${JSON.stringify(e.path)} ${e.data.length} B`);
  const outcome = runRecipeCase(s, Number(values["slow-ms"]), maxFile);
  console.log(
    `outcome: ${outcome.kind} in ${outcome.ms.toFixed(0)} ms${outcome.detail ? `: ${outcome.detail}` : ""}`,
  );
  if (outcome.stack) console.log(outcome.stack);
  if (outcome.kind === "user-error" || outcome.kind === "leak" || outcome.kind === "unlocated")
    for (const p of runRepo(repo).slice(0, 20))
      console.log(`  ${p.file}:${p.line}:${p.column} ${p.code} ${p.message.slice(0, 200)}`);
  saveFinding(
    out,
    { signature: "repro", kind: outcome.kind, seed: s, index: -1, ms: outcome.ms, labels: repo.labels },
    maxFile,
  );
  console.log(`files written to ${out}/recipe-${outcome.kind}-${s}/repo`);
  process.exit(0);
}

const targets = values.target === "all" ? ["recipe", "http"] : [values.target!];

function printRecipe(stats: RunStats, final: boolean) {
  const k = Object.entries(stats.kinds)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(", ");
  console.log(
    `recipe: ${stats.cases} cases in ${(stats.elapsedMs / 1000).toFixed(1)} s (${rate(stats.cases, stats.elapsedMs)}/s); ${k}; slowest ${stats.maxCaseMs.toFixed(0)} ms; worker RSS max ${stats.maxRssMb.toFixed(0)} MiB`,
  );
  if (!final) return;
  if (stats.findings.size === 0) console.log("recipe: no findings");
  for (const [sig, list] of stats.findings) {
    console.log(`  FINDING ×${stats.counts.get(sig)}  ${sig}`);
    for (const f of list)
      console.log(
        `    --repro ${f.seed} --max-file ${maxFile}  (case ${f.index}, ${f.ms} ms, ${f.labels?.join("+")})${f.detail ? `  ${f.detail.slice(0, 160)}` : ""}`,
      );
  }
}

for (const target of targets) {
  if (target === "recipe") {
    const count = Number(values.count ?? 20_000);
    console.log(
      `recipe: seed ${seed}, cases ${values.start}..${Number(values.start) + count - 1}, findings in ${out}`,
    );
    const stats = await runRecipeFuzz({
      seed,
      count,
      start: Number(values.start),
      budgetMs: Number(values["budget-ms"]),
      slowMs: Number(values["slow-ms"]),
      outDir: out,
      maxFile,
      onProgress: (s) => printRecipe(s, false),
      progressEveryMs: 30_000,
    });
    printRecipe(stats, true);
    writeFileSync(
      `${out}/recipe-summary-${seed}.json`,
      `${JSON.stringify({ ...stats, findings: Object.fromEntries(stats.findings), counts: Object.fromEntries(stats.counts) }, null, 2)}\n`,
    );
  } else if (target === "http") {
    const count = Number(values.count ?? 20_000);
    const stats = await runHttpFuzz({
      seed,
      count,
      onProgress: (s) => console.log(`http: ${s.cases} cases (${rate(s.cases, s.elapsedMs)}/s)`),
    });
    console.log(
      `http: ${stats.cases} cases in ${(stats.elapsedMs / 1000).toFixed(1)} s (${rate(stats.cases, stats.elapsedMs)}/s); p99 ${stats.p99Ms.toFixed(2)} ms, max ${stats.maxMs.toFixed(1)} ms; RSS ${stats.rssStartMb.toFixed(0)} → ${stats.rssEndMb.toFixed(0)} MiB`,
    );
    for (const [route, counts] of Object.entries(stats.byRoute))
      console.log(`  ${route}: ${JSON.stringify(counts)}`);
    if (!stats.findings.length) console.log("http: no findings (no 5xx, no stack traces, every error coded)");
    for (const f of stats.findings)
      console.log(
        `  FINDING ${f.why}: ${f.route} → ${f.status} (seed ${f.seed}, case ${f.index}) ${f.body.slice(0, 200)}`,
      );
    writeFileSync(`${out}/http-summary-${seed}.json`, `${JSON.stringify(stats, null, 2)}\n`);
  } else throw new Error(`unknown target ${target}: recipe, http or all`);
}

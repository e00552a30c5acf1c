/**
 * The recipe fuzzer with a fixed seed (TRUST C4): every mutated repository either compiles or
 * gives located, coded problems — never an exception, an internal error in a message, a hang or a
 * memory blow-up. Files are cut at 64 KiB here, for speed; `bench/fuzz.ts` runs the big ones.
 * A failure names the case seed: `node --import tsx bench/fuzz.ts --target recipe --repro SEED
 * --max-file 65536` reruns it and writes its repository out.
 */
import t from "tap";
import { runRecipeFuzz } from "../helpers/fuzz-runner.js";

const COUNT = Number(process.env.TEND_FUZZ_CASES ?? 1500);

t.test(`${COUNT} mutated repositories: success or located errors only`, async (t) => {
  const stats = await runRecipeFuzz({
    seed: 20240601,
    count: COUNT,
    maxFile: 64 * 1024,
    budgetMs: 10_000,
    slowMs: 5_000,
  });
  t.equal(stats.cases, COUNT);
  for (const [sig, list] of stats.findings) {
    const f = list[0]!;
    t.fail(`${sig} ×${stats.counts.get(sig)}: --repro ${f.seed} --max-file 65536 (${f.labels?.join("+")})`, {
      detail: f.detail,
      stack: f.stack,
    });
  }
  t.ok((stats.kinds["user-error"] ?? 0) > COUNT / 2, `mostly located errors: ${JSON.stringify(stats.kinds)}`);
  t.ok((stats.kinds.ok ?? 0) > 0, "and some repositories that still compile");
  t.comment(
    `${stats.cases} cases in ${(stats.elapsedMs / 1000).toFixed(1)} s; ${JSON.stringify(stats.kinds)}`,
  );
});

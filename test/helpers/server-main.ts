/** Runs `tend server ...` as its own process (what cli/tend.ts does), for the real-process tests. */
import { formatProblem, isTendError } from "../../core/errors.js";
import { main } from "../../server/main.js";

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`tend: ${(err as Error).message}\n`);
  if (isTendError(err)) for (const p of err.problems) process.stderr.write(`  ${formatProblem(p)}\n`);
  process.exitCode = 1;
}

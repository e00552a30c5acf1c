/** Printing errors for people: the sentence, never a stack trace unless `--debug`. */
import { formatProblem, isTendError } from "../core/errors.js";

export function printError(err: unknown, debug = false): number {
  if (isTendError(err)) {
    process.stderr.write(`tend: ${err.message}\n`);
    for (const p of err.problems) process.stderr.write(`  ${formatProblem(p)}\n`);
    if (debug && err.stack) process.stderr.write(`${err.stack}\n`);
    return err.exitCode;
  }
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === "object" && typeof e.code === "string" && typeof e.message === "string" && !debug) {
    // An OS error (ENOENT, EACCES...) reached the top: say it plainly.
    process.stderr.write(`tend: ${e.message}\n`);
    return 1;
  }
  process.stderr.write(`tend: internal error: ${e?.message ?? String(err)}\n`);
  if (e?.stack) process.stderr.write(`${e.stack}\n`);
  process.stderr.write("This is a bug in tend; please report it with the output above.\n");
  return 1;
}

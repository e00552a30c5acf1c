/** `tend validate [DIR] [--json]`: check a recipe repository; every error at once, located. */
import { parseArgs } from "node:util";
import { assertRepoDir } from "../../agent/compile-local.js";
import { fsRepo } from "../../agent/repo-fs.js";
import { formatProblem, TendError } from "../../core/errors.js";
import { validateRepo } from "../../core/validate.js";

const HELP = `usage: tend validate [DIR] [--json]

Checks a recipe repository (default: the current folder): every file against its schema, includes,
templates, sources, duplicate ids and dependency cycles. Prints every error as FILE:LINE:COL.
A recipe file over 64 MiB is an error (TEND_MAX_FILE_BYTES=N raises the limit).
Exit 0 when valid, 1 otherwise.`;

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const dir = positionals[0] ?? ".";
  assertRepoDir(dir);
  const result = validateRepo(fsRepo(dir));
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ valid: result.problems.length === 0, ...result }, null, 2)}\n`);
    return result.problems.length ? 1 : 0;
  }
  if (result.problems.length === 0) {
    process.stdout.write(`ok: ${result.summary}\n`);
    return 0;
  }
  for (const p of result.problems) process.stderr.write(`${formatProblem(p)}\n`);
  const n = result.problems.length;
  process.stderr.write(
    `${dir}: ${n} ${n === 1 ? "error" : "errors"} (${result.summary.replace(`${dir}: `, "")})\n`,
  );
  return 1;
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        debug: { type: "boolean" },
      },
    });
  } catch (err) {
    throw new TendError("TEND_E_USAGE", `${(err as Error).message}\n\n${HELP}`);
  }
}

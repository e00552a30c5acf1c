/** `tend compile [DIR] [--node NAME] [--facts FILE]`: print the catalog a node would get (JSON). */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { compileDir } from "../../agent/compile-local.js";
import { TendError } from "../../core/errors.js";
import { schemaProblems } from "../../core/schema.js";
import type { Facts } from "../../core/types.js";

const HELP = `usage: tend compile [DIR] [--node NAME] [--facts FILE]

Prints the catalog compiled for a node from a recipe folder (default: this host and its facts).`;

export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseOpts>;
  try {
    parsed = parseOpts(argv);
  } catch (err) {
    throw new TendError("TEND_E_USAGE", `${(err as Error).message}\n\n${HELP}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  let facts: Facts;
  if (values.facts) {
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(values.facts, "utf8"));
    } catch (err) {
      throw new TendError(
        "TEND_E_USAGE",
        `cannot read facts from ${values.facts}: ${(err as Error).message}`,
      );
    }
    const problems = schemaProblems("facts", data, { file: values.facts });
    if (problems.length)
      throw new TendError("TEND_E_SCHEMA", `${values.facts} does not hold valid facts`, problems);
    facts = data as Facts;
  } else {
    facts = await (await import("../../agent/facts/index.js")).gatherFacts();
  }
  const node = values.node ?? facts.hostname;
  const catalog = compileDir(positionals[0] ?? ".", node, facts);
  process.stdout.write(`${JSON.stringify(catalog, null, 2)}\n`);
  return 0;
}

function parseOpts(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      node: { type: "string" },
      facts: { type: "string" },
      help: { type: "boolean", short: "h" },
      debug: { type: "boolean" },
    },
  });
}

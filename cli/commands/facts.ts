/** `tend facts [--json]`: print this box's facts, as `key: value` lines or as JSON. */
import { parseArgs } from "node:util";
import { gatherFacts } from "../../agent/facts/index.js";
import { TendError } from "../../core/errors.js";
import type { Facts, Json } from "../../core/types.js";

export const usage = `usage: tend facts [--json]

Print the facts this box reports to the compiler (templates see them as \`facts\`).

options:
  --json      print the facts as one JSON object
  -h, --help  show this help`;

export async function main(argv: string[]): Promise<number> {
  const { json } = parseFactsArgs(argv);
  if (json === undefined) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const facts = await gatherFacts();
  process.stdout.write(json ? `${JSON.stringify(facts, null, 2)}\n` : `${factLines(facts).join("\n")}\n`);
  return 0;
}

/** `{ json }`, or `{ json: undefined }` when help was asked for. */
function parseFactsArgs(argv: string[]): { json: boolean | undefined } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      // --debug is tend-wide (cli/tend.ts prints stack traces with it); accepted and ignored here.
      options: {
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        debug: { type: "boolean" },
      },
    });
    if (positionals.length > 0) throw usageError(`unexpected argument "${positionals[0]}" (it takes none)`);
    return { json: values.help ? undefined : values.json === true };
  } catch (err) {
    if (err instanceof TendError) throw err;
    const e = err as NodeJS.ErrnoException;
    // parseArgs's own message suggests `--` tricks; name the option plainly instead.
    const option = /'([^']+)'/.exec(e.message)?.[1];
    if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && option) throw usageError(`unknown option "${option}"`);
    throw usageError(e.message);
  }
}

function usageError(message: string): TendError {
  return new TendError(
    "TEND_E_USAGE",
    `facts: ${message}\nusage: tend facts [--json]   (tend facts --help for more)`,
  );
}

/** One `key: value` line per fact, nested keys dotted (`os.id: debian`), lists comma-separated. */
export function factLines(facts: Facts): string[] {
  const lines: string[] = [];
  const walk = (prefix: string, value: Json | undefined): void => {
    if (value === undefined) return;
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value)) walk(prefix ? `${prefix}.${key}` : key, inner);
      return;
    }
    lines.push(`${prefix}: ${show(value)}`);
  };
  walk("", facts as unknown as Json);
  return lines;
}

const printable = /^[^\x00-\x1f\x7f]*$/;

function show(value: Json): string {
  if (Array.isArray(value)) return value.length === 0 ? "(none)" : value.map(show).join(", ");
  // A string with control characters (a newline) would break the one-line-per-fact form: quote it.
  if (typeof value === "string" && printable.test(value)) return value;
  return JSON.stringify(value);
}

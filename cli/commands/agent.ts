/**
 * `tend agent enroll | run | daemon | flush`: the pull agent's command line. Output and exit codes
 * are those of `tend apply` (agent/output.ts, agent/report.ts): 0 no changes, 2 changes, 4 failures,
 * 6 both, 1 the run could not start (not enrolled, no catalog, stale cache).
 */
import { parseArgs } from "node:util";
import { DEFAULT_CONFIG_FILE } from "../../agent/config.js";
import { TendError } from "../../core/errors.js";
import { enrollCommand } from "./agent-enroll.js";
import { options, USAGE, type Values } from "./agent-options.js";
import { runCommand } from "./agent-run.js";

export async function main(argv: string[]): Promise<number> {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new TendError("TEND_E_USAGE", `${(err as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  const [sub, ...extra] = positionals;
  if (values.help || !sub) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 1;
  }
  if (extra.length > 0)
    throw new TendError("TEND_E_USAGE", `unexpected arguments: ${extra.join(" ")}\n\n${USAGE}`);
  const configFile = values.config ?? DEFAULT_CONFIG_FILE;
  switch (sub) {
    case "enroll":
      return enrollCommand(values, configFile);
    case "run":
      return runCommand(values, configFile);
    case "flush":
      return flushCommand(configFile);
    case "daemon": {
      const { daemon } = await import("../../agent/daemon.js");
      return daemon(configFile);
    }
    default:
      throw new TendError("TEND_E_USAGE", `unknown agent command "${sub}"\n\n${USAGE}`);
  }
}

async function flushCommand(configFile: string): Promise<number> {
  const [{ loadConfig }, { flushSpool }] = await Promise.all([
    import("../../agent/config.js"),
    import("../../agent/run.js"),
  ]);
  const r = await flushSpool(await loadConfig(configFile));
  if (r.sent > 0) process.stdout.write(`spool: sent ${r.sent} report(s), ${r.left} left\n`);
  return r.left > 0 ? 3 : 0;
}

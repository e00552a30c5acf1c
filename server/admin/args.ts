/** What the admin sub-commands of `tend server` share: the usage, argument parsing, the storage. */
import { parseArgs } from "node:util";
import { TendError } from "../../core/errors.js";
import { loadConfig } from "../config.js";
import { openStorage } from "../storage/open.js";
import type { Storage } from "../storage/types.js";

/** The usage of `tend server` and all its sub-commands: `--help` on any of them prints it. */
export const usage = `usage: tend server [--config FILE]
       tend server token create [--ttl DURATION] [--uses N] [--node GLOB] [--reenroll] [--config FILE]
       tend server token create --admin [--role admin|operator|viewer] [--ttl DURATION] [--config FILE]
       tend server token list [--config FILE]
       tend server token revoke ID|TOKEN [--config FILE]
       tend server token revoke --all-expired [--config FILE]
       tend server node revoke NAME [--config FILE]
       tend server nodes [--where SEARCH] [--json] [--config FILE]
         (SEARCH: os.version_id = 12 and package:nginx failed; see docs/dashboard.md)
       tend server user add NAME --role admin|operator|viewer [--password-file FILE] [--config FILE]
       tend server user passwd NAME [--password-file FILE] [--config FILE]
       tend server user role NAME --role admin|operator|viewer [--config FILE]
       tend server user list [--config FILE]
       tend server user remove NAME [--config FILE]
         (a password is read from --password-file, from standard input when it is a pipe, or asked for)
       tend server key [--pem] [--config FILE]      the signing key's fingerprint, to pin on agents
       tend server alerts test SINK [--config FILE]  send a test event to an alert sink`;

export type Values = Record<string, string | boolean | undefined>;

export function parse(
  argv: string[],
  options: Record<string, { type: "string" | "boolean" }>,
  positionals = 0,
): { values: Values; positionals: string[] } {
  let parsed: { values: Values; positionals: string[] };
  try {
    const all = { ...options, config: { type: "string" as const }, help: { type: "boolean" as const } };
    parsed = parseArgs({ args: argv, options: all, allowPositionals: positionals > 0 }) as typeof parsed;
  } catch (err) {
    throw new TendError("TEND_E_USAGE", `${(err as Error).message}\n${usage}`);
  }
  if (parsed.positionals.length > positionals) {
    throw new TendError("TEND_E_USAGE", `unexpected argument "${parsed.positionals[positionals]}"\n${usage}`);
  }
  return parsed;
}

/** Opens the configured storage, runs `fn`, closes it. */
export async function withStorage<T>(values: Values, fn: (s: Storage) => Promise<T>): Promise<T> {
  const storage = await openStorage(loadConfig(values.config as string | undefined));
  try {
    return await fn(storage);
  } finally {
    await storage.close();
  }
}

export function help(): number {
  process.stdout.write(`${usage}\n`);
  return 0;
}

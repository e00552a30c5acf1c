/** `tend server node revoke NAME`: end a node's credential at once (its reports stay). */
import { TendError } from "../../core/errors.js";
import { audit, cliActor } from "../audit.js";
import { loadConfig } from "../config.js";
import { announceRevocation } from "../push/bus.js";
import { help, parse, usage, withStorage } from "./args.js";

export async function nodeRevoke(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {}, 1);
  if (values.help) return help();
  const name = positionals[0];
  if (name === undefined) throw new TendError("TEND_E_USAGE", `node revoke needs a node name\n${usage}`);
  const done = await withStorage(values, async (s) => {
    const now = Date.now();
    if (!(await s.revokeNode(name, now))) return false;
    await audit(s, cliActor(), { action: "node.revoke", nodes: [name] }, now);
    return true;
  });
  if (!done) throw new TendError("TEND_E_SERVER_REVOKE", `No node named "${name}" is enrolled.`);
  process.stdout.write(
    `revoked node ${name}: its credential no longer works; re-enrol it with a --reenroll token\n`,
  );
  // Its push streams end at once on every server; should the message be lost, each server's next
  // heartbeat ends them anyway (the credential check).
  const config = loadConfig(values.config as string | undefined);
  await announceRevocation(config.database, config.databaseSchema, name).catch((err) =>
    process.stderr.write(
      `warning: the servers were not told at once (${(err as Error).message}); its streams end at their next heartbeat\n`,
    ),
  );
  return 0;
}

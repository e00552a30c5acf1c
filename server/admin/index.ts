/**
 * The admin sub-commands of `tend server` (tokens, accounts, node revocation, the signing key, alert tests): each opens
 * what it needs, does one thing and exits; `tend server` alone serves (server/main.ts).
 */
import { TendError } from "../../core/errors.js";
import { alertsTest } from "./alerts.js";
import { usage } from "./args.js";
import { keyCommand } from "./key.js";
import { nodeRevoke } from "./nodes.js";
import { nodesCommand } from "./search.js";
import { tokenCreate, tokenList, tokenRevoke } from "./tokens.js";
import { userAdd, userList, userPasswd, userRemove, userRole } from "./users.js";

/** The exit code of the admin command `argv` names, or null when it names none (serve). */
export async function adminCommand(argv: string[]): Promise<number | null> {
  if (argv[0] === "token") {
    if (argv[1] === "create") return tokenCreate(argv.slice(2));
    if (argv[1] === "list") return tokenList(argv.slice(2));
    if (argv[1] === "revoke") return tokenRevoke(argv.slice(2));
    throw new TendError("TEND_E_USAGE", usage);
  }
  if (argv[0] === "node") {
    if (argv[1] === "revoke") return nodeRevoke(argv.slice(2));
    throw new TendError("TEND_E_USAGE", usage);
  }
  if (argv[0] === "user") {
    const subs = { add: userAdd, list: userList, role: userRole, passwd: userPasswd, remove: userRemove };
    const name = argv[1] ?? "";
    if (Object.hasOwn(subs, name)) return subs[name as keyof typeof subs](argv.slice(2));
    throw new TendError("TEND_E_USAGE", usage);
  }
  if (argv[0] === "nodes") return nodesCommand(argv.slice(1));
  if (argv[0] === "key") return keyCommand(argv.slice(1));
  if (argv[0] === "alerts") {
    if (argv[1] === "test") return alertsTest(argv.slice(2));
    throw new TendError("TEND_E_USAGE", usage);
  }
  return null;
}

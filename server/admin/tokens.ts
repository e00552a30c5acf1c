/**
 * `tend server token create | list | revoke`: enrolment and admin tokens, kept by hash only. The
 * rules and the audit entries are shared with the API and the dashboard (actions/tokens.ts).
 */
import { TendError } from "../../core/errors.js";
import { createToken, revokeToken, tokenPrefix, tokenProblem } from "../actions/tokens.js";
import { audit, cliActor } from "../audit.js";
import { parseDuration } from "../config.js";
import { isRole } from "../roles.js";
import { tokenId } from "../storage/sql/tokens.js";
import { help, parse, usage, withStorage } from "./args.js";

export async function tokenCreate(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    admin: { type: "boolean" },
    role: { type: "string" },
    ttl: { type: "string" },
    uses: { type: "string" },
    node: { type: "string" },
    reenroll: { type: "boolean" },
  });
  if (values.help) return help();
  if (values.role !== undefined && !isRole(values.role)) {
    throw new TendError("TEND_E_USAGE", `--role must be admin, operator or viewer, not "${values.role}".`);
  }
  const o = {
    admin: values.admin === true,
    role: values.role as "admin" | undefined,
    ttlMs: values.ttl !== undefined ? parseDuration(String(values.ttl)) : undefined,
    uses: values.uses === undefined ? undefined : Number(values.uses),
    node: (values.node as string | undefined) || null,
    reenroll: values.reenroll === true,
  };
  if (values.uses !== undefined && !/^[0-9]+$/.test(String(values.uses))) o.uses = Number.NaN;
  const problem = tokenProblem(o);
  if (problem) throw new TendError("TEND_E_USAGE", problem.replace(`"NaN"`, `"${values.uses}"`));
  const made = await withStorage(values, (s) => createToken(s, cliActor(), o));
  process.stdout.write(`${made.token}\n`);
  process.stderr.write(`tend server: token id ${made.id}\n`);
  return 0;
}

const iso = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString());

export async function tokenList(argv: string[]): Promise<number> {
  const { values } = parse(argv, {});
  if (values.help) return help();
  const tokens = await withStorage(values, (s) => s.listTokens());
  const lines = tokens.map((t) =>
    [
      tokenId(t.hash),
      t.kind,
      t.kind === "admin" ? t.role : "-",
      iso(t.created_at),
      iso(t.expires_at),
      t.uses_left === null ? "-" : String(t.uses_left),
      t.node_glob ?? "-",
      t.reenroll ? "reenroll" : "-",
    ].join("\t"),
  );
  process.stdout.write(
    ["id\tkind\trole\tcreated\texpires\tuses_left\tnode\treenroll", ...lines, ""].join("\n"),
  );
  return 0;
}

export async function tokenRevoke(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { "all-expired": { type: "boolean" } }, 1);
  if (values.help) return help();
  const target = positionals[0];
  const now = Date.now();
  if (values["all-expired"] === true) {
    if (target !== undefined)
      throw new TendError("TEND_E_USAGE", `give an ID or --all-expired, not both\n${usage}`);
    const hashes = await withStorage(values, async (s) => {
      const gone = await s.revokeExpiredTokens(now);
      if (gone.length > 0) {
        await audit(
          s,
          cliActor(),
          { action: "token.revoke-expired", details: { ids: gone.map(tokenId) } },
          now,
        );
      }
      return gone;
    });
    for (const h of hashes) process.stdout.write(`revoked token ${tokenId(h)}\n`);
    process.stderr.write(`tend server: ${hashes.length} expired or used-up token(s) revoked\n`);
    return 0;
  }
  if (target === undefined)
    throw new TendError("TEND_E_USAGE", `token revoke needs an ID or --all-expired\n${usage}`);
  // The token itself, its full hash, or an id (at least 12 hex digits of the hash).
  const prefix = tokenPrefix(target);
  if (!prefix) {
    throw new TendError(
      "TEND_E_USAGE",
      `"${target}" is not a token id: give the id \`tend server token list\` shows (12 hex digits) or the token itself.`,
    );
  }
  const result = await withStorage(values, (s) => revokeToken(s, cliActor(), prefix, now));
  if (result.ambiguous) {
    throw new TendError(
      "TEND_E_SERVER_REVOKE",
      `"${target}" matches several tokens; give more digits of its hash.`,
    );
  }
  if (result.revoked === null)
    throw new TendError("TEND_E_SERVER_REVOKE", `No token has the id "${target}".`);
  process.stdout.write(`revoked token ${result.revoked}\n`);
  return 0;
}

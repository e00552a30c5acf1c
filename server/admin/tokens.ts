/** `tend server token create | list | revoke`: enrolment and admin tokens, kept by hash only. */
import { TendError } from "../../core/errors.js";
import { loadConfig, parseDuration } from "../config.js";
import { hashSecret, newSecret } from "../identity.js";
import { openStorage } from "../storage/open.js";
import { tokenId } from "../storage/sql/tokens.js";
import { help, parse, usage, withStorage } from "./args.js";

export async function tokenCreate(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    admin: { type: "boolean" },
    ttl: { type: "string" },
    uses: { type: "string" },
    node: { type: "string" },
    reenroll: { type: "boolean" },
  });
  if (values.help) return help();
  const admin = values.admin === true;
  if (admin && (values.node || values.uses || values.reenroll)) {
    throw new TendError(
      "TEND_E_USAGE",
      "--node, --uses and --reenroll apply to enrolment tokens, not to --admin tokens.",
    );
  }
  // A re-enrolment token replaces an existing node's credential: without a name glob it could take
  // over any node of the fleet (TRUST A3, B2).
  if (values.reenroll === true && (typeof values.node !== "string" || values.node === "")) {
    throw new TendError(
      "TEND_E_USAGE",
      "--reenroll needs --node GLOB naming the node(s) it may re-enrol (for example --node web-1): " +
        "without it, the token could replace the credential of any node.",
    );
  }
  const uses = values.uses === undefined ? (admin ? null : 1) : Number(values.uses);
  if (uses !== null && (!Number.isInteger(uses) || uses < 1)) {
    throw new TendError("TEND_E_USAGE", `--uses must be a whole number of at least 1, not "${values.uses}".`);
  }
  const ttlMs = values.ttl !== undefined ? parseDuration(String(values.ttl)) : admin ? null : 3_600_000;
  const config = loadConfig(values.config as string | undefined);
  const storage = await openStorage(config);
  try {
    const token = newSecret(admin ? "admin" : "enroll");
    const now = Date.now();
    await storage.createToken({
      hash: hashSecret(token),
      kind: admin ? "admin" : "enroll",
      created_at: now,
      expires_at: ttlMs === null ? null : now + ttlMs,
      uses_left: uses,
      node_glob: (values.node as string | undefined) ?? null,
      reenroll: values.reenroll === true,
    });
    process.stdout.write(`${token}\n`);
    process.stderr.write(`tend server: token id ${tokenId(hashSecret(token))}\n`);
  } finally {
    await storage.close();
  }
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
      iso(t.created_at),
      iso(t.expires_at),
      t.uses_left === null ? "-" : String(t.uses_left),
      t.node_glob ?? "-",
      t.reenroll ? "reenroll" : "-",
    ].join("\t"),
  );
  process.stdout.write(["id\tkind\tcreated\texpires\tuses_left\tnode\treenroll", ...lines, ""].join("\n"));
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
    const hashes = await withStorage(values, (s) => s.revokeExpiredTokens(now));
    for (const h of hashes) process.stdout.write(`revoked token ${tokenId(h)}\n`);
    process.stderr.write(`tend server: ${hashes.length} expired or used-up token(s) revoked\n`);
    return 0;
  }
  if (target === undefined)
    throw new TendError("TEND_E_USAGE", `token revoke needs an ID or --all-expired\n${usage}`);
  // The token itself, its full hash, or an id (at least 12 hex digits of the hash).
  const prefix = /^tend_(enr|adm)_/.test(target) ? hashSecret(target) : target.toLowerCase();
  if (!/^[0-9a-f]{12,64}$/.test(prefix)) {
    throw new TendError(
      "TEND_E_USAGE",
      `"${target}" is not a token id: give the id \`tend server token list\` shows (12 hex digits) or the token itself.`,
    );
  }
  const result = await withStorage(values, (s) => s.revokeToken(prefix, now));
  if (result.ambiguous) {
    throw new TendError(
      "TEND_E_SERVER_REVOKE",
      `"${target}" matches several tokens; give more digits of its hash.`,
    );
  }
  const [hash] = result.revoked;
  if (hash === undefined) throw new TendError("TEND_E_SERVER_REVOKE", `No token has the id "${target}".`);
  process.stdout.write(`revoked token ${tokenId(hash)}\n`);
  return 0;
}

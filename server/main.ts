/**
 * `tend server [--config FILE]` and `tend server token create ...`: configuration, storage,
 * signing key, git gate, listen, background jobs and signals. Everything else is in app.ts.
 */
import { mkdirSync, readFileSync, type Stats, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { TendError } from "../core/errors.js";
import { buildApp } from "./app.js";
import { coreCompiler } from "./compiler.js";
import { loadConfig, parseDuration, type ServerConfig } from "./config.js";
import { GitGate } from "./git/gate.js";
import { GitMirror } from "./git/mirror.js";
import { hashSecret, newSecret } from "./identity.js";
import { keyCommand, keyLine } from "./key-info.js";
import { loadSigningKey } from "./signing.js";
import { openPostgres } from "./storage/postgres.js";
import { tokenId } from "./storage/sql.js";
import { openSqlite } from "./storage/sqlite.js";
import type { Storage } from "./storage/types.js";

const usage = `usage: tend server [--config FILE]
       tend server token create [--admin] [--ttl DURATION] [--uses N] [--node GLOB] [--reenroll] [--config FILE]
       tend server token list [--config FILE]
       tend server token revoke ID|TOKEN [--config FILE]
       tend server token revoke --all-expired [--config FILE]
       tend server node revoke NAME [--config FILE]
       tend server key [--pem] [--config FILE]      the signing key's fingerprint, to pin on agents`;

export async function openStorage(config: ServerConfig): Promise<Storage> {
  if (config.database === "sqlite") {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    return openSqlite(join(config.dataDir, "tend.db"));
  }
  return openPostgres({ url: config.database, schema: config.databaseSchema });
}

/**
 * TRUST L2: the files that hold the server's secrets must be its own and private. Returns one
 * sentence per file that is not: the data folder, tend.db with its -wal and -shm, the signing key
 * (owned by the server's user, no group/other access), and the configuration file (not writable by
 * group/other, and not readable by them when it holds a secret: a webhook secret or a database
 * password; owned by the server's user or root). Files that do not exist yet are not checked: the
 * server creates them private (`main` sets the umask).
 */
export function permissionProblems(config: ServerConfig, configFile: string | undefined): string[] {
  const problems: string[] = [];
  const uid = process.getuid?.();
  const check = (file: string, what: string, allowRoot: boolean, mask: number) => {
    let st: Stats;
    try {
      st = statSync(file);
    } catch {
      return;
    }
    const mode = st.mode & 0o777;
    const fix = st.isDirectory() ? `chmod 700 ${file}` : `chmod 600 ${file}`;
    if (uid !== undefined && st.uid !== uid && !(allowRoot && st.uid === 0)) {
      problems.push(
        `${what} ${file} is owned by uid ${st.uid}, not by the server's user (uid ${uid}): chown it to that user and \`${fix}\`.`,
      );
    } else if ((mode & mask) !== 0) {
      const octal = mode.toString(8).padStart(4, "0");
      problems.push(`${what} ${file} has mode ${octal}, open to group or others: run \`${fix}\`.`);
    }
  };
  check(config.dataDir, "the data folder", false, 0o077);
  check(join(config.dataDir, "signing-key.pem"), "the signing key", false, 0o077);
  if (config.database === "sqlite") {
    const db = join(config.dataDir, "tend.db");
    for (const f of [db, `${db}-wal`, `${db}-shm`]) check(f, "the database file", false, 0o077);
  }
  if (configFile !== undefined) {
    const secret = config.recipes?.webhookSecret || databasePassword(config.database);
    // Without a secret in it, a world-readable configuration is the usual /etc practice; a writable
    // one never is (it says which repository the fleet runs).
    check(configFile, "the configuration file", true, secret ? 0o077 : 0o022);
  }
  return problems;
}

function databasePassword(database: string): boolean {
  if (!/^postgres(ql)?:/.test(database)) return false;
  try {
    const url = new URL(database);
    return url.password !== "" || url.searchParams.has("password");
  } catch {
    return true; // unreadable: assume the worst
  }
}

type Values = Record<string, string | boolean | undefined>;

function parse(
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
async function withStorage<T>(values: Values, fn: (s: Storage) => Promise<T>): Promise<T> {
  const storage = await openStorage(loadConfig(values.config as string | undefined));
  try {
    return await fn(storage);
  } finally {
    await storage.close();
  }
}

const iso = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString());

async function tokenList(argv: string[]): Promise<number> {
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

async function tokenRevoke(argv: string[]): Promise<number> {
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

async function nodeRevoke(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {}, 1);
  if (values.help) return help();
  const name = positionals[0];
  if (name === undefined) throw new TendError("TEND_E_USAGE", `node revoke needs a node name\n${usage}`);
  const done = await withStorage(values, (s) => s.revokeNode(name, Date.now()));
  if (!done) throw new TendError("TEND_E_SERVER_REVOKE", `No node named "${name}" is enrolled.`);
  process.stdout.write(
    `revoked node ${name}: its credential no longer works; re-enrol it with a --reenroll token\n`,
  );
  return 0;
}

function help(): number {
  process.stdout.write(`${usage}\n`);
  return 0;
}

async function tokenCreate(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    admin: { type: "boolean" },
    ttl: { type: "string" },
    uses: { type: "string" },
    node: { type: "string" },
    reenroll: { type: "boolean" },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
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

async function serve(argv: string[]): Promise<number> {
  const { values } = parse(argv, {});
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const configFile = values.config as string | undefined;
  const config = loadConfig(configFile);
  const unsafe = permissionProblems(config, configFile);
  if (unsafe.length > 0) {
    throw new TendError(
      "TEND_E_CONFIG",
      `refusing to start: the server's secrets must be private (TRUST L2).\n${unsafe.join("\n")}`,
    );
  }
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const storage = await openStorage(config);
  const key = loadSigningKey(config.dataDir);
  const compiler = await coreCompiler();
  const https = config.tls
    ? { cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) }
    : null;
  const logger = { level: config.logLevel, stream: process.stderr };
  const built = await buildApp({ config, storage, key, compiler, logger, https });
  const { app } = built;
  let gate: GitGate | null = null;
  if (config.recipes) {
    const mirror = new GitMirror(
      join(config.dataDir, "recipes.git"),
      config.recipes.repo,
      config.recipes.branch,
    );
    gate = new GitGate(mirror, config.recipes.path, storage, compiler, app.log);
    built.deps.gate = gate;
    await gate.refresh().catch((err) => app.log.error({ err: (err as Error).message }, "git fetch failed"));
  }
  const address = await app.listen({ host: config.listen.host, port: config.listen.port });
  process.stdout.write(`tend server: listening on ${address}\n`);
  process.stdout.write(keyLine(key));
  const timers: NodeJS.Timeout[] = [];
  if (gate && config.recipes && config.recipes.pollMs > 0) {
    const g = gate;
    timers.push(
      setInterval(
        () => g.refresh().catch((err) => app.log.error({ err: (err as Error).message }, "git fetch failed")),
        config.recipes.pollMs,
      ),
    );
  }
  const prune = () =>
    storage
      .pruneReports(Date.now() - config.keepDays * 86_400_000)
      .then((n) => n > 0 && app.log.info({ pruned: n }, "old reports pruned"))
      .catch((err) => app.log.warn({ err: (err as Error).message }, "report pruning failed"));
  timers.push(setInterval(prune, 3_600_000));
  void prune();
  return new Promise((resolve) => {
    const stop = async () => {
      for (const t of timers) clearInterval(t);
      await app.close();
      await storage.close();
      resolve(0);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}

export async function main(argv: string[]): Promise<number> {
  // Every file the server creates (tend.db and its -wal/-shm, the mirror) is private to its user:
  // the startup check (permissionProblems) refuses them otherwise.
  process.umask(0o077);
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
  if (argv[0] === "key") return keyCommand(argv.slice(1));
  return serve(argv);
}

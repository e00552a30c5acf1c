/**
 * `tend server [--config FILE]`: configuration, storage, signing key, git gate, listen, background
 * jobs and signals. Everything else is in app.ts; the admin sub-commands (`tend server token
 * create`, `key`, ...) are in admin/.
 */
import { existsSync, mkdirSync, readFileSync, type Stats, statSync } from "node:fs";
import { join } from "node:path";
import { TendError } from "../core/errors.js";
import { help, parse } from "./admin/args.js";
import { adminCommand } from "./admin/index.js";
import { loadSinks, secretFileProblems } from "./alerts/sinks.js";
import { buildApp, connectGate } from "./app.js";
import { coreCompiler } from "./compiler.js";
import { loadConfig, type ServerConfig } from "./config.js";
import { GitGate } from "./git/gate.js";
import { GitMirror } from "./git/mirror.js";
import { keyLine } from "./key-info.js";
import { loadSigningKey } from "./signing.js";
import { openStorage } from "./storage/open.js";

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
  problems.push(...secretFileProblems(config.alerts));
  if (config.oidc) {
    const file = config.oidc.clientSecretFile;
    if (!existsSync(file))
      problems.push(
        `the OIDC client secret file ${file} does not exist: write the secret there (\`chmod 600\`).`,
      );
    else check(file, "the OIDC client secret file", true, 0o027);
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

async function serve(argv: string[]): Promise<number> {
  const { values } = parse(argv, {});
  if (values.help) return help();
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
  const sinks = loadSinks(config.alerts);
  const storage = await openStorage(config);
  const key = loadSigningKey(config.dataDir);
  const compiler = await coreCompiler();
  const https = config.tls
    ? { cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) }
    : null;
  const logger = { level: config.logLevel, stream: process.stderr };
  const built = await buildApp({ config, storage, key, compiler, logger, https, sinks });
  const { app } = built;
  let gate: GitGate | null = null;
  if (config.recipes) {
    const mirror = new GitMirror(
      join(config.dataDir, "recipes.git"),
      config.recipes.repo,
      config.recipes.branch,
      config.maxFileBytes,
    );
    gate = new GitGate(mirror, config.recipes.path, storage, compiler, app.log, config.recipes.branches);
    connectGate(built.deps, gate);
    await gate.refresh().catch((err) => app.log.error({ err: (err as Error).message }, "git fetch failed"));
  }
  const address = await app.listen({ host: config.listen.host, port: config.listen.port });
  process.stdout.write(`tend server: listening on ${address}\n`);
  process.stdout.write(keyLine(key));
  if (!config.publicUrl) built.deps.publicUrl = address;
  await built.deps.alerts.start();
  built.deps.deploys.engine.startTimer();
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
      await built.deps.alerts.stop();
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
  return (await adminCommand(argv)) ?? serve(argv);
}

/**
 * TRUST L2: the server refuses to start when its secrets are not private — the data folder,
 * tend.db and its -wal/-shm, the signing key, and a configuration file holding a secret — and
 * creates its own files private.
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { loadConfig } from "../../server/config.js";
import { permissionProblems } from "../../server/main.js";
import { tendServer } from "../helpers/server-process.js";

function setup(t: { teardown(fn: () => void): void }, yaml = "") {
  const dir = mkdtempSync(join(tmpdir(), "tend-perm-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, "data");
  mkdirSync(data, { mode: 0o700 });
  const config = join(dir, "server.yaml");
  writeFileSync(config, `listen: 127.0.0.1:0\ndata_dir: ${data}\nlog_level: warn\n${yaml}`, { mode: 0o600 });
  for (const f of ["tend.db", "tend.db-wal", "tend.db-shm", "signing-key.pem"]) {
    writeFileSync(join(data, f), "", { mode: 0o600 });
  }
  return { dir, data, config, problems: () => permissionProblems(loadConfig(config), config) };
}

t.test("private files pass; each file open to group or others is named with its mode and fix", async (t) => {
  const { data, config, problems } = setup(t);
  t.same(problems(), [], "all private");
  for (const f of ["tend.db", "tend.db-wal", "tend.db-shm", "signing-key.pem"]) {
    const file = join(data, f);
    chmodSync(file, 0o644);
    const [p, ...rest] = problems();
    t.same(rest, [], f);
    t.match(p, `${file} has mode 0644, open to group or others: run \`chmod 600 ${file}\``, f);
    chmodSync(file, 0o600);
  }
  chmodSync(data, 0o750);
  t.match(problems(), [
    `the data folder ${data} has mode 0750, open to group or others: run \`chmod 700 ${data}\``,
  ]);
  chmodSync(data, 0o700);

  chmodSync(config, 0o644);
  t.same(problems(), [], "a configuration without secrets may be world-readable");
  chmodSync(config, 0o664);
  t.match(problems(), [`the configuration file ${config} has mode 0664`], "but not writable by others");
});

t.test("a configuration holding a secret must not be readable by others", async (t) => {
  for (const yaml of [
    "recipes:\n  repo: /r\n  webhook_secret: s3cret-s3cret-s3cret\n",
    "database: postgres://tend:pa55@127.0.0.1/tend\n",
  ]) {
    const { config, problems } = setup(t, yaml);
    t.same(problems(), [], "0600 is fine");
    chmodSync(config, 0o640);
    t.match(problems(), [
      `the configuration file ${config} has mode 0640, open to group or others: run \`chmod 600 ${config}\``,
    ]);
  }
  const { config, problems } = setup(t, "database: postgres://tend@127.0.0.1/tend\n");
  chmodSync(config, 0o644);
  t.same(problems(), [], "a database URL without a password is no secret");
});

t.test(
  "files owned by another user are refused (root may own the configuration)",
  { skip: process.getuid?.() !== 0 && "needs root to chown" },
  async (t) => {
    const { data, config, problems } = setup(t);
    const key = join(data, "signing-key.pem");
    chownSync(key, 65534, 65534);
    t.match(problems(), [`the signing key ${key} is owned by uid 65534, not by the server's user (uid 0)`]);
    chownSync(key, 0, 0);
    chownSync(config, 65534, 65534);
    t.match(problems(), [/the configuration file .* is owned by uid 65534/]);
  },
);

t.test("tend server refuses to start, and creates its own files private", async (t) => {
  const { data, config } = setup(t);
  rmSync(data, { recursive: true });
  // token create opens the database first: it must create the folder and tend.db private.
  await tendServer(["token", "create", "--admin", "--config", config]);
  t.equal(statSync(data).mode & 0o777, 0o700);
  t.equal(statSync(join(data, "tend.db")).mode & 0o777, 0o600, "tend.db is created 0600");
  const db = join(data, "tend.db");
  chmodSync(db, 0o644);
  const failure = await tendServer(["--config", config]).then(
    () => "",
    (err: { stderr?: string }) => String(err.stderr),
  );
  t.match(failure, "refusing to start");
  t.match(failure, `${db} has mode 0644, open to group or others: run \`chmod 600 ${db}\``);
});

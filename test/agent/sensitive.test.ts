/**
 * TRUST L1: a canary secret in a recipe appears in none of the agent's output, its report, the
 * server's stored rows or a backup readable by anyone but root: a file marked `sensitive`, a file
 * whose mode keeps it from others (by default), and an exec marked `sensitive` whose command prints
 * the secret and fails. Controls prove the greps can see: `sensitive: false` on a 0600 file and a
 * plain exec show what they would hide.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import t from "tap";
import { parseConfig } from "../../agent/config.js";
import { formatReport } from "../../agent/output.js";
import { agentRun } from "../../agent/run.js";
import { main } from "../../cli/commands/agent.js";
import { openSqlite } from "../../server/storage/sqlite.js";
import { testFacts } from "../helpers/agent-env.js";
import { startTestServer } from "../helpers/server-app.js";

const canary = randomBytes(32).toString("hex");
const control = `shown-${randomBytes(8).toString("hex")}`;
const root = mkdtempSync(join(tmpdir(), "tend-sensitive-"));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const target = join(root, "target");
const dbFile = join(root, "tend.db");

const recipe = [
  "resources:",
  `  - file: ${target}`,
  "    ensure: directory",
  `  - file: ${target}/db.conf`,
  `    content: "password=${canary}\\n"`,
  '    mode: "0600"',
  `  - file: ${target}/token.txt`,
  `    content: "token=${canary}\\n"`,
  "    sensitive: true",
  `  - file: ${target}/shown.conf`,
  `    content: "value=${control}\\n"`,
  '    mode: "0600"',
  "    sensitive: false",
  `  - exec: /bin/sh -c 'cat ${target}/db.conf; exit 3'`,
  "    sensitive: true",
  `    require: [file:${target}/db.conf]`,
  `  - exec: /bin/echo ${control}`,
  "",
].join("\n");

const server = await startTestServer({
  storage: { name: "sqlite", database: "sqlite", open: () => openSqlite(dbFile), cleanup: async () => {} },
  recipes: { "nodes.yaml": '- name: "*"\n  recipes: [base]\n', "base/recipe.yaml": recipe },
});
t.teardown(() => server.close());
await server.app.listen({ port: 0, host: "127.0.0.1" });
const url = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
const stateDir = join(root, "state");
const configFile = join(root, "agent.yaml");
const base = { server: url, node: "agent-1", state_dir: stateDir, splay: 0 };
writeFileSync(configFile, JSON.stringify(base), { mode: 0o600 });
const config = parseConfig(JSON.stringify(base), "agent.yaml");
const token = await server.enrollToken();
t.equal(
  await main(["enroll", "--server", url, "--token", token, "--node", "agent-1", "--config", configFile]),
  0,
);

const seen: string[] = [];
const run = async (noop = false) => {
  const log: string[] = [];
  const { report } = await agentRun(config, {
    facts: testFacts("agent-1"),
    http: { attempts: 1 },
    noop,
    log: (l) => log.push(l),
  });
  seen.push(...log, formatReport(report, { color: false }), JSON.stringify(report));
  return report;
};

t.test("a first run, a plan after drift, and the repairing run", async (t) => {
  const first = await run();
  t.equal(first.status, "failed", "the sensitive exec fails");
  t.equal(readFileSync(join(target, "db.conf"), "utf8"), `password=${canary}\n`, "the secret is written");
  const failed = first.resources.find((r) => r.id.startsWith("exec:/bin/sh"));
  t.match(failed?.error, /exit(ed)? .*3/, "the error still says how the command ended");
  t.match(failed?.error, /output hidden: sensitive/);
  // Drift: the secrets' files edited by hand (still holding the secret), the control too.
  for (const f of ["db.conf", "token.txt"]) writeFileSync(join(target, f), `edited ${canary}\n`);
  writeFileSync(join(target, "shown.conf"), "edited by hand\n");
  const plan = await run(true);
  const byId = (id: string) => plan.resources.find((r) => r.id === `file:${target}/${id}`);
  t.match(byId("db.conf")?.diff, /content hidden \(mode 0600/, "0600: hidden by default");
  t.match(byId("token.txt")?.diff, /content hidden \(sensitive: true\)/);
  t.match(byId("shown.conf")?.diff, new RegExp(`\\+value=${control}`), "sensitive: false shows the diff");
  t.match(byId("db.conf")?.changes, [{ property: "content" }], "the change itself is still named");
  const repair = await run();
  t.equal(repair.resources.find((r) => r.id === `file:${target}/db.conf`)?.drifted, true);
  t.ok(seen.join("\n").includes(control), "the control is visible, so the greps below can see");
});

t.test("the canary is nowhere: output, reports, every server row, backups", async (t) => {
  const leak = seen.join("\n");
  const at = leak.indexOf(canary);
  t.notOk(at >= 0, "agent output, logs and reports", {
    found: at >= 0 ? leak.slice(Math.max(0, at - 300), at + 80) : "",
  });
  const stored = JSON.stringify(
    await server.app
      .inject({
        method: "GET",
        url: "/api/v1/nodes/agent-1/reports?limit=50",
        headers: { authorization: `Bearer ${server.adminToken}` },
      })
      .then((r) => r.json()),
  );
  t.ok(stored.includes("agent-1"));
  t.notOk(stored.includes(canary), "reports through the API");
  const db = new Database(dbFile, { readonly: true });
  t.teardown(() => db.close());
  const tables = (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
  ).map((r) => r.name);
  t.ok(tables.includes("reports") && tables.includes("report_resources"));
  let rows = 0;
  for (const name of tables) {
    for (const row of db.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[]) {
      rows++;
      const text = Object.values(row)
        .map((v) => (Buffer.isBuffer(v) ? v.toString("latin1") : String(v)))
        .join("\u0000");
      t.notOk(text.includes(canary), `no row of ${name} holds it`);
    }
  }
  t.ok(rows > 10, "the dump read the stored rows");
  // Backups of the replaced secrets exist but only root can read them.
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? [join(dir, e.name), ...walk(join(dir, e.name))] : [join(dir, e.name)],
    );
  const holders = walk(stateDir).filter((p) => statSync(p).isFile() && readFileSync(p).includes(canary));
  t.ok(
    holders.some((p) => p.includes("backup")),
    "the replaced secret is in a backup",
  );
  t.equal(statSync(stateDir).mode & 0o077, 0, "the state dir is closed to others");
  for (const p of holders) t.equal(statSync(p).mode & 0o077, 0, `${p} is readable by its owner alone`);
});

/**
 * `tend server user …` and `tend server token create --role` as real processes: a password from a
 * pipe or a file (never argv), roles, removal, and every change recorded in the audit log as
 * `cli:<unix user>`; then the server process signs the account in and opens its pages by role.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";
import { openSqlite } from "../../server/storage/sqlite.js";
import { serverConfigDir, spawnServer, stop, tendServer } from "../helpers/server-process.js";

const entry = fileURLToPath(new URL("../helpers/server-main.ts", import.meta.url));

/** `tend server ARGS` with `input` on its standard input (a pipe, not a terminal). */
function withStdin(args: string[], input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ["--import", "tsx", entry, ...args], (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(input);
  });
}

t.test("accounts from the command line, recorded as cli:<unix user>", async (t) => {
  const { dir, config } = serverConfigDir(t, "tend-users-");
  const me = `cli:${userInfo().username}`;
  const added = await withStdin(
    ["user", "add", "alice", "--role", "operator", "--config", config],
    "a passphrase from a pipe\n",
  );
  t.same([added.code, added.stdout], [0, "added user alice (operator)\n"], added.stderr);
  const file = join(dir, "pw");
  writeFileSync(file, "a passphrase from a file\n", { mode: 0o600 });
  const bob = await tendServer([
    "user",
    "add",
    "bob",
    "--role",
    "viewer",
    "--password-file",
    file,
    "--config",
    config,
  ]);
  t.equal(bob.stdout, "added user bob (viewer)\n");
  t.match(
    (await withStdin(["user", "add", "carol", "--role", "viewer", "--password", "x", "--config", config], ""))
      .stderr,
    /Unknown option '--password'/,
    "no password in argv",
  );
  t.match(
    (await withStdin(["user", "add", "dave", "--role", "root", "--config", config], "a long passphrase\n"))
      .stderr,
    /--role must be admin, operator or viewer/,
  );
  t.match(
    (await withStdin(["user", "add", "dave", "--role", "viewer", "--config", config], "short\n")).stderr,
    /TEND_E_BAD_REQUEST|shorter than 12/,
  );
  const dup = await withStdin(
    ["user", "add", "alice", "--role", "admin", "--config", config],
    "a passphrase from a pipe\n",
  );
  t.match([dup.code, dup.stderr], [1, /already a user named "alice"/]);
  t.equal(
    (await tendServer(["user", "role", "bob", "--role", "admin", "--config", config])).stdout,
    "user bob is now admin\n",
  );
  t.equal((await withStdin(["user", "passwd", "bob", "--config", config], "a second passphrase\n")).code, 0);
  t.equal(
    (await tendServer(["user", "list", "--config", config])).stdout
      .split("\n")
      .map((l) => l.split("\t").slice(0, 2).join(" "))
      .slice(0, 3)
      .join("|"),
    "name role|alice operator|bob admin",
  );
  const viewerToken = (
    await tendServer(["token", "create", "--admin", "--role", "viewer", "--config", config])
  ).stdout.trim();
  t.match(viewerToken, /^tend_adm_/);
  t.match((await tendServer(["token", "list", "--config", config])).stdout, /\tadmin\tviewer\t/);
  t.match(
    (await withStdin(["token", "create", "--role", "viewer", "--config", config], "")).stderr,
    /--role applies to --admin tokens/,
  );

  const server = await spawnServer(config);
  t.teardown(() => stop(server));
  const page = await fetch(`${server.url}/ui/login`);
  const loginCookie = /tend_login=([^;]+)/.exec(page.headers.get("set-cookie") ?? "")?.[1];
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? "";
  const login = await fetch(`${server.url}/ui/login`, {
    method: "POST",
    headers: { cookie: `tend_login=${loginCookie}`, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _csrf: csrf, user: "alice", password: "a passphrase from a pipe" }),
    redirect: "manual",
  });
  t.equal(login.status, 303, "the server process signs alice in");
  const session = /tend_session=([^;]+)/.exec(login.headers.get("set-cookie") ?? "")?.[1];
  const fleet = await fetch(`${server.url}/ui/`, { headers: { cookie: `tend_session=${session}` } });
  t.match(await fleet.text(), /Run now/, "an operator's fleet page has the run buttons");
  const auditPage = await fetch(`${server.url}/ui/audit`, { headers: { cookie: `tend_session=${session}` } });
  t.equal(auditPage.status, 403, "and no audit log");
  const api = await fetch(`${server.url}/api/v1/nodes`, {
    headers: { authorization: `Bearer ${viewerToken}` },
  });
  t.equal(api.status, 200, "the viewer token reads");
  await stop(server);

  t.equal(
    (await tendServer(["user", "remove", "alice", "--config", config])).stdout,
    "removed user alice; its sessions have ended\n",
  );
  const storage = await openSqlite(join(dir, "data", "tend.db"));
  const entries = (await storage.readAudit({ limit: 20 })).reverse();
  await storage.close();
  t.same(
    entries.map((e) => [e.actor, e.action, e.details.user ?? e.details.kind]),
    [
      [me, "user.add", "alice"],
      [me, "user.add", "bob"],
      [me, "user.role", "bob"],
      [me, "user.password", "bob"],
      [me, "token.create", "admin"],
      ["user:alice", "login", undefined],
      [me, "user.remove", "alice"],
    ],
  );
  t.ok(entries.filter((e) => e.actor === me).every((e) => e.address === null && e.role === "admin"));
});

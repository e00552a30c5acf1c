/**
 * The authorized_key kind with real keys (ssh-keygen) for real `tendtest` users whose homes are in a
 * temp directory: create with sshd's modes, other keys left alone, options rewritten in place,
 * copies removed, exclusive, absent, modes repaired, links planted by the user refused. In a box, a
 * real sshd (StrictModes on) lets the key log in, and refuses a key that was not added.
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import t from "tap";
import { authorizedKey } from "../../../agent/resources/authorized-key.js";
import { markChanging } from "../../../agent/resources/kind.js";
import { Accounts } from "../../../agent/sys/accounts.js";
import type { Json } from "../../../core/types.js";
import { noBoxes } from "../../boxes/lib/index.js";
import { bootTendBox, tendIn } from "../../helpers/box-kind.js";
import { tend } from "../../helpers/cli.js";
import { context, type KindCase, resource, runCases } from "../../helpers/kind-harness.js";

const root = mkdtempSync("/var/tmp/tend-akey-");
const stateDir = join(root, "state");
const users = ["tendtestk1", "tendtestk2"];
const cleanup = () => {
  for (const u of users) spawnSync("userdel", [u], { stdio: "ignore" });
  for (const u of users) spawnSync("groupdel", [u], { stdio: "ignore" });
};
cleanup();
for (const u of users) spawnSync("useradd", ["-m", "-d", join(root, u), "-s", "/bin/sh", u]);
t.teardown(() => {
  cleanup();
  rmSync(root, { recursive: true, force: true });
});
const k1 = new Accounts().user("tendtestk1")!;

/** A fresh key pair: the private key's path and the public key line. */
function keyPair(name: string, type = "ed25519"): { path: string; pub: string } {
  const path = join(root, `key-${name}`);
  spawnSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", name, "-f", path]);
  return { path, pub: readFileSync(`${path}.pub`, "utf8").trim() };
}
const alice = keyPair("alice@laptop");
const bob = keyPair("bob@desk", "rsa");
const carol = keyPair("carol@ci");
const blob = (pub: string) => pub.split(" ")[1]!;
const sshDir = join(root, "tendtestk1", ".ssh");
const file = join(sshDir, "authorized_keys");
const read = () => readFileSync(file, "utf8");
const key = (title: string, params: Record<string, Json>) =>
  resource("authorized_key", title, { ensure: "present", user: "tendtestk1", ...params });

const cases: KindCase[] = [
  {
    name: "a first key creates ~/.ssh (0700) and authorized_keys (0600), the user's",
    resource: key("alice", { key: alice.pub, options: ["no-port-forwarding", 'from="10.0.0.0/8"'] }),
    expect: [
      { property: ".ssh", from: "absent", to: "directory" },
      { property: "ensure", from: "absent", to: "present" },
    ],
    diff: /\+no-port-forwarding,from="10\.0\.0\.0\/8" ssh-ed25519 \S+ alice@laptop/,
    watch: [sshDir, file],
    after: (t) => {
      const d = statSync(sshDir);
      const f = statSync(file);
      t.same([d.mode & 0o7777, d.uid, d.gid], [0o700, k1.uid, k1.gid]);
      t.same([f.mode & 0o7777, f.uid, f.gid], [0o600, k1.uid, k1.gid]);
    },
  },
  {
    name: "another key is added; the keys and comments already there are left alone",
    given: () => writeFileSync(file, `# keys of tendtestk1\n${read()}${bob.pub}\n`),
    resource: key("carol", { key: carol.pub }),
    expect: [{ property: "ensure", from: "absent", to: "present" }],
    watch: [file],
    after: (t) => {
      const lines = read().split("\n");
      t.match(lines, ["# keys of tendtestk1", /alice@laptop$/, bob.pub, carol.pub, ""]);
      t.equal(lines.length, 5);
    },
  },
  {
    name: "new options rewrite the key's line in place; a copy further down is removed",
    given: () => writeFileSync(file, `${read()}${alice.pub}\n`),
    resource: key("alice", { key: alice.pub, options: ["restrict"] }),
    expect: [
      { property: "options", from: 'no-port-forwarding,from="10.0.0.0/8"', to: "restrict" },
      { property: "copies", from: 2, to: 1 },
    ],
    watch: [file],
    after: (t) => t.equal(read().split("\n")[1], `restrict ${alice.pub}`),
  },
  {
    name: "exclusive keeps the catalog's keys for the user and removes the others",
    resource: key("carol", { key: carol.pub, exclusive: true }),
    expect: [{ property: "other keys", to: [] }],
    watch: [file],
    after: (t) => {
      t.notMatch(read(), blob(alice.pub));
      t.notMatch(read(), blob(bob.pub));
      t.match(read(), /^# keys of tendtestk1\n/, "comments stay");
    },
  },
  {
    name: "loose modes and a wrong owner are repaired (sshd's StrictModes would refuse them)",
    given: () => {
      chmodSync(sshDir, 0o775);
      chmodSync(file, 0o664);
      chownSync(file, 0, 0);
    },
    resource: key("carol", { key: carol.pub }),
    expect: [
      { property: ".ssh mode", from: "0775", to: "0700" },
      { property: "mode", from: "0664", to: "0600" },
      { property: "owner", from: "0:0", to: `${k1.uid}:${k1.gid}` },
    ],
    watch: [file],
  },
  {
    name: "absent removes the key",
    resource: key("carol", { key: carol.pub, ensure: "absent" }),
    expect: [{ property: "ensure", from: "present", to: "absent" }],
    after: (t) => t.notMatch(read(), blob(carol.pub)),
  },
  {
    name: "absent for a user with no account is in sync",
    resource: key("nobody", { key: carol.pub, ensure: "absent", user: "tendtestnosuchuser" }),
    expect: [],
  },
];

await runCases(t, authorizedKey, cases, () => ({ stateDir }));

t.test("exclusive with two keys declared for the user keeps both", async (t) => {
  const a = key("alice", { key: alice.pub, exclusive: true });
  const c = key("carol", { key: carol.pub });
  writeFileSync(file, `${bob.pub}\n${carol.pub}\n`);
  const pre = await authorizedKey.prefetch!([a, c], context({ stateDir, noop: true }));
  const ctx = context({ stateDir, prefetched: pre });
  const { changes } = await authorizedKey.check(a, ctx);
  t.match(changes, [{ property: "ensure" }, { property: "other keys", from: [/^ssh-rsa …\S+ bob@desk$/] }]);
  await authorizedKey.apply(a, changes, ctx);
  t.equal(read(), `${carol.pub}\n${alice.pub}\n`);
});

t.test("the keys of one user share one read of their file in a run; a change is seen", async (t) => {
  const a = key("alice", { key: alice.pub });
  const c = key("carol", { key: carol.pub });
  const both = `${alice.pub}\n${carol.pub}\n`;
  writeFileSync(file, both);
  chmodSync(sshDir, 0o700);
  chmodSync(file, 0o600);
  chownSync(sshDir, k1.uid, k1.gid);
  chownSync(file, k1.uid, k1.gid);
  const runOf = async (run: Record<string, Json>) =>
    context({
      stateDir,
      noop: true,
      run,
      prefetched: await authorizedKey.prefetch!([a, c], context({ stateDir, run })),
    });
  const one = await runOf({});
  t.same((await authorizedKey.check(a, one)).changes, []);
  writeFileSync(file, `${alice.pub}\n`);
  t.same((await authorizedKey.check(c, one)).changes, [], "carol's check uses the read alice's made");
  const next = await runOf({});
  t.match(
    (await authorizedKey.check(c, next)).changes,
    [{ property: "ensure", from: "absent", to: "present" }],
    "a key removed between runs is seen at the next run",
  );
  writeFileSync(file, both);
  markChanging(next.run);
  t.same((await authorizedKey.check(c, next)).changes, [], "and read again once the run changed something");
});

t.test("refusals are coded errors", async (t) => {
  const ctx = context({ stateDir });
  const wrongType = `ssh-rsa ${blob(alice.pub)} mislabelled`;
  await t.rejects(authorizedKey.check(key("x", { key: wrongType }), ctx), {
    code: "TEND_E_SSH_KEY",
    message: /not a ssh-rsa key \(it holds a ssh-ed25519 key\)/,
  });
  await t.rejects(authorizedKey.check(key("x", { key: carol.pub, user: "tendtestnosuchuser" }), ctx), {
    code: "TEND_E_UNKNOWN_OWNER",
  });
  // tendtestk2 replaces ~/.ssh with a link to a directory of root's: never written through.
  const target = join(root, "roots-dir");
  mkdirSync(target);
  const link = join(root, "tendtestk2", ".ssh");
  symlinkSync(target, link);
  spawnSync("chown", ["-h", "tendtestk2", link]);
  await t.rejects(authorizedKey.check(key("x", { key: carol.pub, user: "tendtestk2" }), ctx), {
    code: "TEND_E_FILE_SYMLINK",
  });
  const ctxApply = context({ stateDir });
  await t.rejects(authorizedKey.apply(key("x", { key: carol.pub, user: "tendtestk2" }), [], ctxApply), {
    code: "TEND_E_FILE_SYMLINK",
  });
  rmSync(join(root, "tendtestk2"), { recursive: true });
  await t.rejects(authorizedKey.check(key("x", { key: carol.pub, user: "tendtestk2" }), ctx), {
    code: "TEND_E_SSH_NO_HOME",
    message: /manage_home: true on user:tendtestk2/,
  });
});

t.test("a malformed key is refused at validate time; a key comes after its user", async (t) => {
  const dir = join(root, "recipes");
  mkdirSync(join(dir, "base"), { recursive: true });
  writeFileSync(join(dir, "nodes.yaml"), '- name: "*"\n  recipes: [base]\n');
  const recipe = (k: string) =>
    writeFileSync(
      join(dir, "base", "recipe.yaml"),
      `resources:\n  - authorized_key: alice\n    user: deploy\n    key: ${JSON.stringify(k)}\n  - user: deploy\n`,
    );
  recipe("ssh-ed25519");
  const bad = tend(["validate", dir]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /base\/recipe\.yaml:4:\d+: resources\[0\]\.key: must be a public key line/);
  recipe(alice.pub);
  const compiled = tend(["compile", dir, "--node", "n1"]);
  const resources = (JSON.parse(compiled.stdout) as { resources: { id: string; require: string[] }[] })
    .resources;
  t.same(
    resources.map((r) => [r.id, r.require]),
    [
      ["user:deploy", []],
      ["authorized_key:alice", ["user:deploy"]],
    ],
  );
});

/** A port nothing on this machine listens on (boxes share its network). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, "127.0.0.1", ok));
  const { port } = s.address() as { port: number };
  await new Promise((ok) => s.close(ok));
  return port;
}

t.test("in a box, a real sshd lets the key log in", { skip: noBoxes }, async (t) => {
  const box = await bootTendBox(t, "sshd-1");
  // Installing openssh-server must not start sshd on port 22: the box shares the host's network.
  await box.writeFile("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", { mode: "0755" });
  await box.run("apt-get update -q >/dev/null && apt-get install -y -q openssh-server >/dev/null");
  await box.writeFile("/root/alice.pub", `${alice.pub}\n`);
  await box.writeFile("/root/r/nodes.yaml", '- name: "*"\n  recipes: [deploy]\n');
  await box.writeFile(
    "/root/r/deploy/recipe.yaml",
    [
      "resources:",
      "  - authorized_key: alice",
      "    user: tendtestdeploy",
      `    key: ${JSON.stringify(alice.pub)}`,
      "  - user: tendtestdeploy",
      "    shell: /bin/sh",
      "    home: /home/tendtestdeploy",
      "    manage_home: true",
      "",
    ].join("\n"),
  );
  const first = await tendIn(box, ["apply", "/root/r", "--node", "sshd-1"]);
  t.equal(first.code, 2, `${first.stdout}${first.stderr}`);
  const second = await tendIn(box, ["apply", "/root/r", "--node", "sshd-1"]);
  t.equal(second.code, 0, `the second apply changes nothing: ${second.stdout}`);

  const port = await freePort();
  await box.run(["mkdir", "-p", "/run/sshd"]);
  await box.run(["sshd", "-t", "-o", "StrictModes=yes"]);
  await box.run([
    "systemd-run",
    "--unit",
    "tendtest-sshd",
    "/usr/sbin/sshd",
    "-D",
    "-e",
    "-p",
    String(port),
    "-o",
    "ListenAddress=127.0.0.1",
    "-o",
    "StrictModes=yes",
  ]);
  await box.run(
    "for i in $(seq 100); do journalctl -u tendtest-sshd | grep -q 'Server listening' && break; sleep 0.1; done",
  );
  await box.writeFile("/root/alice", readFileSync(alice.path), { mode: "0600" });
  await box.writeFile("/root/bob", readFileSync(bob.path), { mode: "0600" });
  const ssh = (id: string) =>
    box.exec([
      "ssh",
      "-i",
      `/root/${id}`,
      "-p",
      String(port),
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "IdentitiesOnly=yes",
      "tendtestdeploy@127.0.0.1",
      "id -un",
    ]);
  const ok = await ssh("alice");
  t.equal(ok.stdout.trim(), "tendtestdeploy", `alice's key logs in: ${ok.stderr}`);
  const refused = await ssh("bob");
  t.equal(refused.code, 255, "a key that was not added does not");
  t.match(refused.stderr, /Permission denied \(publickey/);
});

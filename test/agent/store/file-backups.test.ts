/** The backup store behind the file kind, and `tend backup list|restore`. */
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  promises as fsp,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { file } from "../../../agent/resources/file.js";
import { BackupStore } from "../../../agent/store/file-backups.js";
import { main } from "../../../cli/commands/backup.js";
import { Contents, context, resource } from "../../helpers/kind-harness.js";

const root = mkdtempSync(join(tmpdir(), "tend-backup-"));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const stateDir = join(root, "state");
const target = join(root, "app.conf");
const contents = new Contents();

async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const write = process.stdout.write;
  process.stdout.write = ((s: string) => {
    out += s;
    return true;
  }) as typeof process.stdout.write;
  try {
    const code = await main([...argv, "--state-dir", stateDir]);
    return { code, out };
  } finally {
    process.stdout.write = write;
  }
}

async function converge(text: string): Promise<void> {
  const r = resource("file", target, { ensure: "file", content_sha256: contents.add(text) });
  const ctx = context({ stateDir, contents });
  await file.apply(r, (await file.check(r, ctx)).changes, ctx);
}

writeFileSync(target, "v1\n");
chmodSync(target, 0o640);
await converge("v2\n");
await converge("v3\n");

t.test("the store keeps each replaced content once, private to root", async (t) => {
  const list = new BackupStore(stateDir).list(target);
  t.equal(list.length, 2);
  t.match(list[0], { path: target, size: 3, mode: 0o640 }, "newest first, with the old mode");
  t.equal((await new BackupStore(stateDir).read(list[1]!)).toString(), "v1\n");
  t.equal(statSync(join(stateDir, "backups", "index.jsonl")).mode & 0o777, 0o600);
});

t.test("list prints one line per backup", async (t) => {
  const { code, out } = await cli("list", target);
  t.equal(code, 0);
  const lines = out.trim().split("\n");
  t.equal(lines.length, 3, "a header and two backups");
  t.match(lines[1], new RegExp(`^[0-9a-f]{12}  \\S+Z\\s+3  0640  ${target}$`));
  t.equal((await cli("list", join(root, "other"))).out, "no backups\n");
});

t.test("restore puts back the newest backup, then an older one by id", async (t) => {
  const [newest, oldest] = new BackupStore(stateDir).list(target);
  t.match((await cli("restore", target)).out, `restored ${target} from ${newest!.id}`);
  t.equal(readFileSync(target, "utf8"), "v2\n");
  t.equal(statSync(target).mode & 0o7777, 0o640);
  await cli("restore", target, "--at", oldest!.id.slice(0, 6));
  t.equal(readFileSync(target, "utf8"), "v1\n");
  t.equal(new BackupStore(stateDir).list(target).length, 4, "each restore backed up what it replaced");
});

t.test("mistakes are usage errors; a missing backup is named", async (t) => {
  await t.rejects(cli("restore"), { code: "TEND_E_USAGE" });
  await t.rejects(cli("frobnicate"), { code: "TEND_E_USAGE" });
  await t.rejects(cli("list", "--bogus"), { code: "TEND_E_USAGE" });
  await t.rejects(cli("restore", target, "--at", "ffffffffffff"), { code: "TEND_E_BACKUP_NOT_FOUND" });
});

t.test(
  "a large file is backed up whole through a spool copy; a spool a killed run left is swept",
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "tend-backup-large-"));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const big = randomBytes(3 * 1024 * 1024);
    const path = join(dir, "big.bin");
    writeFileSync(path, big);
    const store = new BackupStore(join(dir, "state"));
    const fh = await fsp.open(path, "r");
    const record = await store.save(path, fh, { mode: 0o644, uid: 0, gid: 0 }).finally(() => fh.close());
    t.match(record, { size: big.length, sha256: createHash("sha256").update(big).digest("hex") });
    t.ok((await store.read(record)).equals(big), "the object holds the bytes, whole");
    t.same(
      readdirSync(store.dir).filter((n) => n.startsWith(".spool-")),
      [],
      "no spool left behind after a save",
    );
    const left = join(store.dir, ".spool-0123456789ab.tmp");
    writeFileSync(left, "half a copy");
    t.same(store.sweepSpools(), [left]);
    t.notOk(existsSync(left));
  },
);

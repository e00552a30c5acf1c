import {
  chmodSync,
  chownSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { file } from "../../../agent/resources/file.js";
import { atomicWrite } from "../../../agent/sys/atomic-write.js";
import { context, resource } from "../../helpers/kind-harness.js";

const root = mkdtempSync(join(tmpdir(), "tend-atomic-"));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const nobody = 65534;

t.test("the temp file is 0600 and empty when created, in the target's directory", async (t) => {
  const target = join(root, "a");
  let seen: { mode: number; size: number; dir: string } | null = null;
  await atomicWrite(target, Buffer.from("secret"), {
    mode: 0o644,
    hooks: {
      afterCreate(temp) {
        const st = lstatSync(temp);
        seen = { mode: st.mode & 0o7777, size: st.size, dir: join(temp, "..") };
      },
    },
  });
  t.same(seen, { mode: 0o600, size: 0, dir: root });
  t.equal(readFileSync(target, "utf8"), "secret");
  t.equal(statSync(target).mode & 0o7777, 0o644);
});

t.test(
  "owner and mode are set before the rename, while the target still holds the old content",
  async (t) => {
    const target = join(root, "b");
    writeFileSync(target, "old");
    let seen: unknown = null;
    await atomicWrite(target, Buffer.from("new"), {
      mode: 0o640,
      uid: nobody,
      gid: nobody,
      hooks: {
        beforeRename(temp) {
          const st = lstatSync(temp);
          seen = {
            mode: st.mode & 0o7777,
            uid: st.uid,
            gid: st.gid,
            content: readFileSync(temp, "utf8"),
            target: readFileSync(target, "utf8"),
          };
        },
      },
    });
    t.same(seen, { mode: 0o640, uid: nobody, gid: nobody, content: "new", target: "old" });
    const st = statSync(target);
    t.same([st.uid, st.gid, st.mode & 0o7777], [nobody, nobody, 0o640]);
  },
);

t.test("a symlink planted at the target is refused and its target untouched", async (t) => {
  const victim = join(root, "victim");
  writeFileSync(victim, "keep");
  const target = join(root, "planted");
  symlinkSync(victim, target);
  await t.rejects(atomicWrite(target, Buffer.from("evil")), { code: "TEND_E_FILE_SYMLINK" });
  t.equal(readFileSync(victim, "utf8"), "keep");
  t.ok(lstatSync(target).isSymbolicLink(), "the symlink is left as it was");
});

t.test("a failure before the rename leaves the old file and no temp file", async (t) => {
  const target = join(root, "c");
  writeFileSync(target, "old");
  await t.rejects(
    atomicWrite(target, Buffer.from("new"), {
      hooks: {
        beforeRename() {
          throw new Error("crash");
        },
      },
    }),
    /crash/,
  );
  t.equal(readFileSync(target, "utf8"), "old");
  t.same(
    readdirSync(root).filter((n) => n.endsWith(".tmp")),
    [],
    "no temp file survives",
  );
});

t.test("the file kind's prefetch removes temp files a killed run left, and only in apply mode", async (t) => {
  const d = join(root, "sweep");
  mkdirSync(d);
  writeFileSync(join(d, ".app.conf.tend-0123456789ab.tmp"), "half");
  writeFileSync(join(d, ".app.conf.swp"), "not ours");
  const rs = [resource("file", join(d, "app.conf"), { ensure: "file" })];
  await file.prefetch?.(rs, context({ stateDir: join(root, "state"), noop: true }));
  t.equal(readdirSync(d).length, 2, "a plan removes nothing");
  await file.prefetch?.(rs, context({ stateDir: join(root, "state") }));
  t.same(readdirSync(d), [".app.conf.swp"], "tend's temp file is gone, others stay");
});

t.test(
  "a parent directory that a user turned into a symlink is refused (no chown or write through it)",
  async (t) => {
    const base = join(root, "parents");
    const sys = join(base, "sys");
    const home = join(base, "home");
    mkdirSync(sys, { recursive: true });
    mkdirSync(home);
    chownSync(home, 65534, 65534); // a user's home...
    symlinkSync(sys, join(home, ".config"));
    lchownSync(join(home, ".config"), 65534, 65534); // ...where the user planted a link to a system dir
    const through = join(home, ".config", "x.conf");
    await t.rejects(atomicWrite(through, Buffer.from("evil")), {
      code: "TEND_E_FILE_SYMLINK",
      message: /\.config is a symbolic link/,
    });
    t.same(readdirSync(sys), [], "nothing written into the link's target");
    const dir = resource("file", join(home, ".config", "bin"), { ensure: "directory", owner: "nobody" });
    await t.rejects(file.check(dir, context({ stateDir: join(base, "state") })), {
      code: "TEND_E_FILE_SYMLINK",
    });
    await atomicWrite(through, Buffer.from("meant"), { followSymlink: true });
    t.equal(readFileSync(join(sys, "x.conf"), "utf8"), "meant", "follow_symlink: true writes through it");
  },
);

t.test("root's own symlinks in root's directories are followed (/lib -> usr/lib style)", async (t) => {
  const base = join(root, "rootlinks");
  mkdirSync(join(base, "usr", "lib"), { recursive: true });
  chmodSync(base, 0o755);
  symlinkSync(join(base, "usr", "lib"), join(base, "lib"));
  await atomicWrite(join(base, "lib", "unit.service"), Buffer.from("[Unit]\n"));
  t.equal(readFileSync(join(base, "usr", "lib", "unit.service"), "utf8"), "[Unit]\n");
});

t.test("reading a managed file never follows a symlink swapped in after the check", async (t) => {
  const { differingContent } = await import("../../../agent/resources/file-content.js");
  const secret = join(root, "secret");
  writeFileSync(secret, "TOPSECRET-LINE\n", { mode: 0o600 });
  const swapped = join(root, "swapped");
  symlinkSync(secret, swapped);
  t.throws(() => differingContent(swapped, "0".repeat(64)), { code: "ELOOP" }, "refused, nothing read");
  t.match(
    differingContent(swapped, "0".repeat(64), true)?.data?.toString(),
    /TOPSECRET/,
    "read only when following is asked for",
  );
});

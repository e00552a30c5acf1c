/**
 * Owned files read through a directory listed once per run (readListed): the listing only says
 * which names are there, so a file's content and modes are always read as they are now; a name
 * that appeared since is seen once the run has changed something (or at the next run); a link or a
 * fifo put in a file's place is refused as readOwned refuses it; a directory reached through a link
 * is not listed, and each file is read as before.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { markChanging } from "../../../agent/resources/kind.js";
import { listOwned, readListed, readOwned } from "../../../agent/resources/owned-file.js";
import type { Json } from "../../../core/types.js";

const root = mkdtempSync("/var/tmp/tend-owned-");
t.teardown(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
/** A fresh directory with `files` (name → content), and a run that has changed nothing yet. */
function dirWith(files: Record<string, string>): { dir: string; run: Record<string, Json> } {
  const dir = join(root, `d${n++}`);
  mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return { dir, run: {} };
}
const text = (l: { data: Buffer } | null) => l?.data.toString("utf8") ?? null;

t.test("a listed file reads as readOwned reads it, its content and modes as they are now", async (t) => {
  const { dir, run } = dirWith({ a: "one\n" });
  const listing = listOwned(dir, run);
  const path = join(dir, "a");
  const live = readListed("r", path, listing, run);
  const slow = readOwned("r", path)!;
  t.equal(text(live), "one\n");
  t.same([live!.st.ino, live!.st.mode, live!.st.size], [slow.st.ino, slow.st.mode, slow.st.size]);
  writeFileSync(path, "two, longer\n");
  chmodSync(path, 0o600);
  const now = readListed("r", path, listing, run)!;
  t.equal(text(now), "two, longer\n", "a change of content since the listing is read");
  t.equal(now.st.mode & 0o7777, 0o600, "and of mode");
  writeFileSync(path, "");
  t.equal(text(readListed("r", path, listing, run)), "", "an empty file reads empty");
});

t.test(
  "a name not listed is absent without a call; one made since is seen once the run changed something",
  async (t) => {
    const { dir, run } = dirWith({});
    const listing = listOwned(dir, run);
    const path = join(dir, "new");
    t.equal(readListed("r", path, listing, run), null);
    writeFileSync(path, "made by the run\n");
    t.equal(readListed("r", path, listing, run), null, "the listing holds while the run has changed nothing");
    markChanging(run);
    t.equal(
      text(readListed("r", path, listing, run)),
      "made by the run\n",
      "after a change it is read again",
    );
    const next: Record<string, Json> = {};
    t.equal(
      text(readListed("r", path, listOwned(dir, next), next)),
      "made by the run\n",
      "and at the next run",
    );
  },
);

t.test("a file removed since the listing reads as absent", async (t) => {
  const { dir, run } = dirWith({ a: "x" });
  const listing = listOwned(dir, run);
  rmSync(join(dir, "a"));
  t.equal(readListed("r", join(dir, "a"), listing, run), null);
});

t.test("a link or a fifo in a file's place is refused, listed so or put there since", async (t) => {
  const { dir, run } = dirWith({ a: "x", b: "y" });
  writeFileSync(join(root, "elsewhere"), "secret\n");
  symlinkSync(join(root, "elsewhere"), join(dir, "link"));
  spawnSync("mkfifo", [join(dir, "fifo")]);
  const listing = listOwned(dir, run);
  t.throws(() => readListed("r", join(dir, "link"), listing, run), { code: "TEND_E_FILE_SYMLINK" });
  t.throws(() => readListed("r", join(dir, "fifo"), listing, run), { code: "TEND_E_FILE_TYPE" });
  rmSync(join(dir, "a"));
  symlinkSync(join(root, "elsewhere"), join(dir, "a"));
  t.throws(() => readListed("r", join(dir, "a"), listing, run), { code: "TEND_E_FILE_SYMLINK" });
  rmSync(join(dir, "b"));
  spawnSync("mkfifo", [join(dir, "b")]);
  t.throws(() => readListed("r", join(dir, "b"), listing, run), { code: "TEND_E_FILE_TYPE" });
});

t.test("a directory reached through a link is not listed; a missing one lists empty", async (t) => {
  const { dir, run } = dirWith({ a: "x" });
  const link = join(root, "via-link");
  symlinkSync(dir, link);
  t.equal(listOwned(link, run), null);
  t.equal(
    text(readListed("r", join(link, "a"), null, run)),
    "x",
    "its files are read as readOwned reads them",
  );
  const missing = listOwned(join(root, "no-such-dir"), run);
  t.same([...missing!.files, ...missing!.others], []);
  t.equal(readListed("r", join(root, "no-such-dir", "a"), missing, run), null);
});

t.test("a path outside the listed directory is read as readOwned reads it", async (t) => {
  const one = dirWith({});
  const other = dirWith({ a: "x" });
  const listing = listOwned(one.dir, one.run);
  t.equal(text(readListed("r", join(other.dir, "a"), listing, one.run)), "x");
});

// The git checkout reader's stat comparison: the index's recorded mtimes, computed as Node computes
// Stats.mtimeMs, equal the live file's exactly when the time is the same (so a number lstat per
// tracked file is enough), and a same-size edit a microsecond away from the recorded time is
// still a suspect that git is asked about.
import { execFileSync } from "node:child_process";
import { lstatSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { gitDirOf, msOf, readIndex, statDiffers } from "../../../agent/sys/git-repo.js";

const root = mkdtempSync(join(tmpdir(), "tend-git-repo-"));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

/** Sets a file's mtime to exactly `sec`.`nsec` (coreutils touch keeps nanoseconds). */
const setMtime = (path: string, sec: number, nsec: number) =>
  execFileSync("touch", ["-m", "-d", `@${sec}.${String(nsec).padStart(9, "0")}`, path]);

t.test("msOf gives Node's mtimeMs for the same seconds and nanoseconds", async (t) => {
  const path = join(root, "times");
  writeFileSync(path, "x");
  let seen = 0;
  for (let i = 0; i < 300; i++) {
    const sec = 946684800 + Math.floor(Math.random() * 2_000_000_000);
    const nsec = Math.floor(Math.random() * 1e9);
    setMtime(path, sec, nsec);
    const big = lstatSync(path, { bigint: true });
    t.equal(Number(big.mtimeNs / 1_000_000_000n), sec);
    t.equal(msOf(sec, Number(big.mtimeNs % 1_000_000_000n)), lstatSync(path).mtimeMs);
    seen++;
  }
  t.equal(seen, 300);
  t.not(msOf(1_764_000_000, 500_000_000), msOf(1_764_000_000, 500_001_000), "a microsecond apart differs");
  t.ok(msOf(1_764_000_000, 1) < msOf(1_764_000_000, 1_000), "the order is kept");
});

t.test(
  "statDiffers: clean, then a same-size edit a microsecond off, then back to the recorded time",
  async (t) => {
    const work = join(root, "co");
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], {
        cwd: work,
        encoding: "utf8",
      });
    execFileSync("git", ["init", "-q", "-b", "main", work]);
    writeFileSync(join(work, "a.txt"), "version 1\n");
    writeFileSync(join(work, "b.txt"), "other\n");
    // Old times, so no entry is "racily clean" (as new as the index).
    setMtime(join(work, "a.txt"), 1_700_000_000, 123_456_789);
    setMtime(join(work, "b.txt"), 1_700_000_000, 987_654_321);
    git("add", ".");
    git("commit", "-qm", "one");
    const index = readIndex(gitDirOf(work)!)!;
    t.same(
      index.entries.map((e) => [e.path, e.mtimeMs]),
      [
        ["a.txt", msOf(1_700_000_000, 123_456_789)],
        ["b.txt", msOf(1_700_000_000, 987_654_321)],
      ],
    );
    t.same(statDiffers(work, index).suspects, [], "a clean checkout has no suspects");
    writeFileSync(join(work, "a.txt"), "version 2\n");
    setMtime(join(work, "a.txt"), 1_700_000_000, 123_457_789);
    t.same(statDiffers(work, index).suspects, ["a.txt"], "same size, a microsecond later: a suspect");
    setMtime(join(work, "a.txt"), 1_700_000_000, 123_456_789);
    t.same(
      statDiffers(work, index).suspects,
      [],
      "the exact recorded time and size pass, as they do for git itself (its own rule: stat data)",
    );
    rmSync(join(work, "b.txt"));
    t.same(statDiffers(work, index).suspects, ["b.txt"], "a deleted file is a suspect");
  },
);

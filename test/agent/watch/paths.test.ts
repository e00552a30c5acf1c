/**
 * The path watcher on real files: every way an editor or a person replaces, removes or re-modes a
 * file is an event on its resource, a directory removed and created again is watched again, and a
 * directory that did not exist is watched once it appears.
 */
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { PathWatcher } from "../../../agent/watch/paths.js";

function setup(tt: { teardown(fn: () => void): void }, paths: (dir: string) => Record<string, string[]>) {
  const dir = mkdtempSync(join(tmpdir(), "tend-watch-paths-"));
  const seen: string[] = [];
  let wake: (() => void) | null = null;
  const w = new PathWatcher(
    paths(dir),
    (ids) => {
      seen.push(...ids);
      wake?.();
    },
    () => {},
  );
  tt.teardown(() => {
    w.close();
    rmSync(dir, { recursive: true, force: true });
  });
  /** Resolves once `id` has been seen after `act` (no time limit: tap's timeout fails a test that never sees it). */
  const expect = async (id: string, act: () => void) => {
    seen.length = 0;
    const got = new Promise<void>((resolve) => {
      wake = () => {
        if (seen.includes(id)) resolve();
      };
    });
    act();
    await got;
    wake = null;
    return [...new Set(seen)];
  };
  return { dir, w, seen, expect };
}

t.test("edits, rename-over-write, delete and create, chmod: each is an event on the file", async (t) => {
  const s = setup(t, (d) => {
    writeFileSync(join(d, "app.conf"), "one\n");
    writeFileSync(join(d, "other"), "x");
    return { [join(d, "app.conf")]: ["file:app.conf"] };
  });
  const conf = join(s.dir, "app.conf");
  t.same(
    await s.expect("file:app.conf", () => writeFileSync(conf, "two\n")),
    ["file:app.conf"],
    "an edit in place",
  );
  await s.expect("file:app.conf", () => {
    writeFileSync(join(s.dir, ".app.conf.swp"), "three\n");
    renameSync(join(s.dir, ".app.conf.swp"), conf);
  });
  t.pass("a new file renamed over it (vim, sed -i)");
  await s.expect("file:app.conf", () => unlinkSync(conf));
  await s.expect("file:app.conf", () => writeFileSync(conf, "back\n"));
  t.pass("deleted, then created again: still watched (the watch is on the directory)");
  await s.expect("file:app.conf", () => chmodSync(conf, 0o600));
  t.pass("a chmod");
  t.equal(s.w.watches, 1, "one watch for the directory");
});

t.test("a directory removed and created again is watched again; its files' events name them", async (t) => {
  const s = setup(t, (d) => {
    mkdirSync(join(d, "etc", "app"), { recursive: true });
    writeFileSync(join(d, "etc", "app", "a.conf"), "a");
    return {
      [join(d, "etc", "app")]: ["file:etc/app"],
      [join(d, "etc", "app", "a.conf")]: ["file:etc/app/a.conf"],
    };
  });
  const app = join(s.dir, "etc", "app");
  t.equal(s.w.watches, 2, "the directory's parent and the directory");
  const removed = await s.expect("file:etc/app", () => rmSync(app, { recursive: true }));
  t.ok(removed.includes("file:etc/app/a.conf") || removed.includes("file:etc/app"), "the removal is seen");
  await s.expect("file:etc/app", () => mkdirSync(app));
  const again = await s.expect("file:etc/app/a.conf", () => writeFileSync(join(app, "a.conf"), "hand"));
  t.same(again, ["file:etc/app/a.conf"], "a file in the recreated directory is watched again");
});

t.test("a path under a directory that does not exist yet is watched from its ancestor", async (t) => {
  const s = setup(t, (d) => ({ [join(d, "later", "deep", "x.conf")]: ["file:x"] }));
  mkdirSync(join(s.dir, "later", "deep"), { recursive: true });
  s.w.rearm();
  const seen = await s.expect("file:x", () => writeFileSync(join(s.dir, "later", "deep", "x.conf"), "x"));
  t.same(seen, ["file:x"]);
});

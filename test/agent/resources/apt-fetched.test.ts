/**
 * The apt_repository kind's records of its last good updates: every repository's in one file that
 * a run reads once, an older agent's per-repository file still read and moved at the next update,
 * a change between runs seen at the next read, and list files found remembered only within a run.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import {
  filesUnchanged,
  forgetFetched,
  listsThere,
  readFetched,
  readRecords,
  recordPath,
  recordsPath,
  writeFetched,
} from "../../../agent/resources/apt-fetched.js";

const root = mkdtempSync("/var/tmp/tend-aptfetched-");
t.teardown(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function place() {
  const dir = join(root, `s${n++}`);
  mkdirSync(dir);
  const stateDir = join(dir, "state");
  const [sources, list] = [join(dir, "x.sources"), join(dir, "x_Packages")];
  writeFileSync(sources, "Types: deb\n");
  writeFileSync(list, "Package: x\n");
  const record = (index = [list]) => ({ sources: "s", key: null, pins: "", index });
  return { stateDir, sources, list, record };
}

t.test("every repository's record is one file, read once for all of them", async (t) => {
  const { stateDir, sources, record } = place();
  await writeFetched(stateDir, "one", record(), [sources]);
  await writeFetched(stateDir, "two", record(), [sources]);
  const records = readRecords(stateDir);
  t.same([...records.keys()], ["one", "two"]);
  t.equal(
    readFetched(stateDir, "two", records),
    records.get("two"),
    "a check takes its record from the run's read",
  );
  t.ok(filesUnchanged(records.get("one")!, [sources]), "with the files' stat signatures");
  writeFileSync(sources, "Types: deb deb-src\n");
  t.notOk(filesUnchanged(readFetched(stateDir, "one")!, [sources]), "an edit since is seen");
  await forgetFetched(stateDir, "one");
  t.same([...readRecords(stateDir).keys()], ["two"], "a repository forgotten leaves the others");
});

t.test("a record changed between runs is what the next run reads", async (t) => {
  const { stateDir, sources, list, record } = place();
  await writeFetched(stateDir, "one", record(), [sources]);
  const first = readRecords(stateDir);
  await writeFetched(stateDir, "one", record([list, `${list}-2`]), [sources]);
  t.same(first.get("one")!.index, [list], "a run's read is its own");
  t.same(readRecords(stateDir).get("one")!.index, [list, `${list}-2`], "the next run reads the new record");
});

t.test("an older agent's record is read, and moved at the repository's next update", async (t) => {
  const { stateDir, sources, record } = place();
  mkdirSync(join(stateDir, "apt-repository"), { recursive: true });
  writeFileSync(recordPath(stateDir, "old"), JSON.stringify({ ...record(), files: {} }));
  t.same(readFetched(stateDir, "old", readRecords(stateDir))?.sources, "s");
  await writeFetched(stateDir, "old", record(), [sources]);
  t.notOk(existsSync(recordPath(stateDir, "old")));
  t.ok(readRecords(stateDir).has("old"));
  writeFileSync(recordsPath(stateDir), "{ not json");
  t.equal(readFetched(stateDir, "old"), null, "an unreadable file is no record: the update runs again");
});

t.test("list files found are remembered within a run; a missing one is looked for again", async (t) => {
  const { stateDir, sources, list, record } = place();
  await writeFetched(stateDir, "one", record(), [sources]);
  const rec = readFetched(stateDir, "one")!;
  const lists = { at: 0, found: new Map<string, true>() };
  t.ok(listsThere(rec, lists));
  t.ok(lists.found.has(list));
  rmSync(list);
  t.notOk(listsThere(rec, { at: 0, found: new Map() }), "a list removed is missing for the next run");
  t.notOk(lists.found.has(`${list}-none`));
  t.notOk(listsThere({ ...rec, index: [`${list}-none`] }, lists), "and a list never found is not remembered");
});

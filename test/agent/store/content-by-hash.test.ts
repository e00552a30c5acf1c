/**
 * The content store of the compile cache: blobs named by sha256, hash-checked on read, written
 * atomically 0600, never read through a symlink; pruning removes only what tend made.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { ContentStore } from "../../../agent/store/content-by-hash.js";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

function store(t: { teardown(fn: () => void): void }) {
  const stateDir = mkdtempSync(join(tmpdir(), "tend-content-"));
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
  return new ContentStore(stateDir);
}

t.test("put and read back, by hash", async (t) => {
  const s = store(t);
  const data = Buffer.from("some content\n");
  const h = sha(data);
  t.equal(s.read(h), null, "nothing yet");
  s.put(h, data);
  t.same(s.read(h), data);
  t.ok(s.has(h, data.length));
  t.notOk(s.has(h, data.length + 1), "has() compares the size");
  const path = join(s.dir, h.slice(0, 2), h);
  t.equal(statSync(path).mode & 0o777, 0o600);
  t.same(readdirSync(join(s.dir, h.slice(0, 2))), [h], "no temp file left");
  t.throws(() => s.put(h, Buffer.from("other")), /do not hash to it/, "put checks the hash");
  t.equal(s.read("not-a-sha"), null);
});

t.test("a blob whose bytes do not hash to its name is refused; a symlink is not followed", async (t) => {
  const s = store(t);
  const data = Buffer.from("real\n");
  const h = sha(data);
  s.put(h, data);
  const path = join(s.dir, h.slice(0, 2), h);
  writeFileSync(path, "fake\n");
  t.equal(s.read(h), null, "tampered");
  writeFileSync(path, "");
  t.equal(s.read(h), null, "emptied");
  rmSync(path);
  const elsewhere = join(s.dir, "..", "elsewhere");
  writeFileSync(elsewhere, data);
  symlinkSync(elsewhere, path);
  t.equal(s.read(h), null, "a symlink, even to the right bytes");
  s.put(h, data);
  t.same(s.read(h), data, "put replaces it");
  t.ok(statSync(path).isFile());
});

t.test("prune keeps what is referenced and removes the rest", async (t) => {
  const s = store(t);
  const keep = Buffer.from("keep\n");
  const drop = Buffer.from("drop\n");
  s.put(sha(keep), keep);
  s.put(sha(drop), drop);
  t.equal(s.prune(new Set([sha(keep)])), 1);
  t.same(s.read(sha(keep)), keep);
  t.equal(s.read(sha(drop)), null);
  t.equal(s.prune(new Set()), 1);
  t.same(readdirSync(s.dir), [], "empty shards removed");
  t.equal(store(t).prune(new Set()), 0, "no store yet: nothing to do");
});

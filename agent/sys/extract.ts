/**
 * Unpacking an archive into a stage: a fresh directory, root's and mode 0700, that no one else can
 * reach until it is renamed into place. What came out is then proven to stay inside it (TRUST D):
 * no entry named with ".." or an absolute path (refused before anything is written), no symlink
 * that resolves outside the stage, no hard link to a file elsewhere, no device, fifo or socket,
 * and no setuid or setgid bit. tar (GNU tar, essential on Debian) reads tar files with whichever
 * compression it recognises; zip files are read with yauzl, since no unzip tool is on a bare box.
 */
import {
  chmodSync,
  closeSync,
  constants,
  lchownSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  renameSync,
  symlinkSync,
} from "node:fs";
import { open, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import yauzl from "yauzl";
import { TendError } from "../../core/errors.js";
import { tempName } from "./atomic-write.js";
import { runTool } from "./proc.js";
import { removeTree } from "./tree.js";

export interface ExtractOptions {
  /** Permission bits of the directory itself (extractReplacing). */
  mode?: number;
  /** A file written into the directory once extracted, before it goes live (extractReplacing). */
  marker?: { name: string; text: string };
  /** Leading path components dropped from every entry (tar's --strip-components). */
  strip: number;
  /** Who gets every extracted entry (root keeps them when unset). */
  uid?: number;
  gid?: number;
  signal?: AbortSignal;
}

const unsafe = (why: string) => new TendError("TEND_E_ARCHIVE_UNSAFE", why);

function isZip(file: string): boolean {
  const fd = openSync(file, "r");
  try {
    const head = Buffer.alloc(4);
    readSync(fd, head, 0, 4, 0);
    return (
      head.equals(Buffer.from("PK\x03\x04", "latin1")) || head.equals(Buffer.from("PK\x05\x06", "latin1"))
    );
  } finally {
    closeSync(fd);
  }
}

/**
 * `dir` becomes exactly what `file` holds: unpacked into a stage beside it, checked, chowned,
 * marked, then swapped in whole (two renames) and the replaced tree removed. On any failure the
 * stage is removed and `dir` is as it was.
 */
export async function extractReplacing(dir: string, file: string, o: ExtractOptions): Promise<void> {
  const stage = tempName(dir);
  mkdirSync(stage, { mode: 0o700 });
  try {
    await extractInto(file, stage, o);
    if (o.marker) await writeFile(join(stage, o.marker.name), o.marker.text, { mode: 0o644, flag: "wx" });
    if (o.uid !== undefined || o.gid !== undefined) lchownSync(stage, o.uid ?? -1, o.gid ?? -1);
    chmodSync(stage, o.mode ?? 0o755);
    const old = lstatSync(dir, { throwIfNoEntry: false }) ? tempName(dir) : null;
    if (old) renameSync(dir, old);
    renameSync(stage, dir);
    // The replaced tree may be a user's: removed without following anything they linked.
    if (old) await removeTree(old, o.signal);
  } catch (err) {
    await removeTree(stage, o.signal).catch(() => {});
    throw err;
  }
}

/** Unpack `file` into the empty directory `stage`, then check and chown what came out. */
export async function extractInto(file: string, stage: string, o: ExtractOptions): Promise<void> {
  if (isZip(file)) await unzip(file, stage, o.strip);
  else await untar(file, stage, o);
  checkTree(stage, o);
}

function badName(name: string): boolean {
  return name.startsWith("/") || name.split("/").includes("..");
}

async function untar(file: string, stage: string, o: ExtractOptions): Promise<void> {
  const names = await runTool(["tar", "--list", "--quoting-style=escape", "--file", file], {
    signal: o.signal,
  }).catch((err: Error) => {
    throw new TendError("TEND_E_ARCHIVE_FORMAT", `neither a zip nor a tar file tar can read: ${err.message}`);
  });
  for (const name of names.split("\n"))
    if (badName(name)) throw unsafe(`the entry "${name}" would land outside the directory; refused`);
  await runTool(
    [
      "tar",
      "--extract",
      "--file",
      file,
      "--directory",
      stage,
      "--no-same-owner",
      "--no-same-permissions",
      "--no-overwrite-dir",
      `--strip-components=${o.strip}`,
    ],
    { signal: o.signal },
  );
}

const S_IFMT = 0o170000;

async function unzip(file: string, stage: string, strip: number): Promise<void> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(file, { strictFileNames: true });
  } catch (err) {
    throw new TendError("TEND_E_ARCHIVE_FORMAT", `not a readable zip archive: ${(err as Error).message}`);
  }
  const links: [string, string][] = [];
  try {
    for await (const entry of zip.eachEntry()) {
      const rel = entry.fileName.split("/").filter(Boolean).slice(strip);
      if (rel.length === 0) continue;
      const dest = join(stage, ...rel);
      // The type and permission bits are there only when a Unix tool made the archive.
      const unix = entry.versionMadeBy >> 8 === 3 ? entry.externalFileAttributes >>> 16 : 0;
      const type = unix & S_IFMT;
      if (entry.fileName.endsWith("/") || type === 0o040000) {
        mkdirSync(dest, { recursive: true, mode: 0o755 });
        continue;
      }
      if (type !== 0 && type !== 0o100000 && type !== 0o120000)
        throw unsafe(`the entry "${entry.fileName}" is a device, fifo or socket; refused`);
      mkdirSync(dirname(dest), { recursive: true, mode: 0o755 });
      const body = await zip.openReadStreamPromise(entry);
      if (type === 0o120000) {
        const chunks: Buffer[] = [];
        for await (const c of body) chunks.push(c as Buffer);
        links.push([dest, Buffer.concat(chunks).toString("utf8")]);
        continue;
      }
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
      const perm = type ? unix & 0o755 : 0o644;
      const fh = await open(dest, flags, perm);
      try {
        await fh.chmod(perm); // open's mode went through the umask
      } catch (err) {
        await fh.close();
        throw err;
      }
      // The write stream closes the handle when it ends, or fails.
      await pipeline(body, fh.createWriteStream());
    }
  } catch (err) {
    const message = (err as Error).message;
    // yauzl refuses names with "..", a leading "/" or a backslash before it hands an entry over.
    if (/^(absolute path|invalid relative path|invalid characters in fileName)/.test(message))
      throw unsafe(
        `the zip entry ${message.replace(/^[^:]*: /, '"')}" would land outside the directory; refused`,
      );
    throw err;
  } finally {
    zip.close();
  }
  // Links last: no entry above was written through one.
  for (const [dest, target] of links) symlinkSync(target, dest);
}

/**
 * Whether the relative symlink target `target`, found in directory `from` (components below
 * `root`), resolves inside `root`, following the links it meets there as the kernel would.
 */
export function staysInside(root: string, from: string[], target: string): boolean {
  if (target.startsWith("/")) return false;
  const stack = [...from];
  const queue = target.split("/");
  for (let hops = 0; queue.length > 0; ) {
    const c = queue.shift()!;
    if (c === "" || c === ".") continue;
    if (c === "..") {
      if (stack.length === 0) return false;
      stack.pop();
      continue;
    }
    stack.push(c);
    const p = join(root, ...stack);
    if (!lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink()) continue;
    const next = readlinkSync(p);
    if (next.startsWith("/") || ++hops > 40) return false;
    stack.pop();
    queue.unshift(...next.split("/"));
  }
  return true;
}

/**
 * Walk the stage and refuse what escapes it or is not a file, directory or link; only then, once
 * nothing can point outside, clear setuid/setgid bits and give every entry to its owner.
 */
function checkTree(stage: string, o: ExtractOptions): void {
  const entries: { path: string; mode: number; file: boolean }[] = [];
  const links = new Map<bigint, { nlink: bigint; seen: bigint; path: string }>();
  const walk = (dir: string, rel: string[]) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const here = [...rel, name].join("/");
      const st = lstatSync(p, { bigint: true });
      if (st.isSymbolicLink()) {
        const target = readlinkSync(p);
        if (!staysInside(stage, rel, target))
          throw unsafe(`the entry "${here}" is a symlink to ${target}, outside the directory; refused`);
      } else if (st.isDirectory()) walk(p, [...rel, name]);
      else if (!st.isFile()) throw unsafe(`the entry "${here}" is a device, fifo or socket; refused`);
      else if (st.nlink > 1n) {
        const l = links.get(st.ino) ?? { nlink: st.nlink, seen: 0n, path: here };
        l.seen++;
        links.set(st.ino, l);
      }
      entries.push({ path: p, mode: Number(st.mode & 0o7777n), file: st.isFile() });
    }
  };
  walk(stage, []);
  // A file with more names than the stage holds is also known by a name outside it.
  for (const l of links.values())
    if (l.seen < l.nlink)
      throw unsafe(`the entry "${l.path}" is a hard link to a file outside the directory; refused`);
  for (const e of entries) {
    if (e.file && (e.mode & 0o6000) !== 0) chmodSync(e.path, e.mode & 0o1777);
    if (o.uid !== undefined || o.gid !== undefined) lchownSync(e.path, o.uid ?? -1, o.gid ?? -1);
  }
}

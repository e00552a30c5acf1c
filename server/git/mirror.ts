/**
 * A bare mirror of the recipe repository, read without a working tree: no checkout, so no hooks,
 * filters, LFS or submodules ever run. git is called with argv arrays, never through a shell, with
 * prompts disabled and only ordinary transports allowed (no `ext::`).
 */
import { execFile, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { promisify } from "node:util";
import { TendError } from "../../core/errors.js";
import { DEFAULT_MAX_FILE_BYTES, STREAM_FILE_BYTES } from "../../core/repo.js";
import { GitTree } from "./tree.js";

const run = promisify(execFile);

const gitEnv = {
  ...process.env,
  GIT_TERMINAL_PROMPT: "0",
  GIT_ASKPASS: "/bin/true",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_ALLOW_PROTOCOL: "file:git:http:https:ssh",
  GIT_LFS_SKIP_SMUDGE: "1",
};

export class GitMirror {
  /**
   * Blob contents by id, held only while a tree holds them: the commits of many branches share
   * every file they have in common, in memory and in what `cat-file` reads.
   */
  private readonly blobs = new Map<string, WeakRef<Buffer>>();
  /** sha256 of large blobs by git blob id (content-addressed, so never stale). */
  private readonly sha256s = new Map<string, string>();
  private readonly collected = new FinalizationRegistry<string>((sha) => {
    if (!this.blobs.get(sha)?.deref()) this.blobs.delete(sha);
  });

  constructor(
    /** The bare mirror's directory in data_dir. */
    readonly dir: string,
    readonly repo: string,
    readonly branch: string,
    /** Blobs larger than this are not read: the tree knows their size, the compiler refuses them. */
    readonly maxFileBytes = DEFAULT_MAX_FILE_BYTES,
  ) {}

  private async git(args: string[], maxBuffer = 64 * 1024 * 1024): Promise<Buffer> {
    try {
      const { stdout } = await run("git", args, {
        env: gitEnv,
        maxBuffer,
        encoding: "buffer",
        timeout: 120_000,
      });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: Buffer; message: string };
      const detail = e.stderr?.toString().trim() || e.message;
      throw new TendError("TEND_E_GIT", `git ${args[0] === "-C" ? args[2] : args[0]} failed: ${detail}`);
    }
  }

  /** Clones or fetches, then returns the branch's newest commit (null when the branch is missing). */
  async sync(): Promise<string | null> {
    await this.fetch();
    return this.head();
  }

  /** Clones the mirror, or fetches every branch into it (`--prune`: deleted branches go). */
  async fetch(): Promise<void> {
    if (existsSync(`${this.dir}/HEAD`)) {
      await this.git(["-C", this.dir, "fetch", "--prune", "--quiet", "origin"]);
    } else {
      mkdirSync(dirname(this.dir), { recursive: true });
      await this.git(["clone", "--mirror", "--quiet", "--", this.repo, this.dir]);
    }
  }

  async head(branch = this.branch): Promise<string | null> {
    try {
      const out = await this.git([
        "-C",
        this.dir,
        "rev-parse",
        "--verify",
        "--quiet",
        `refs/heads/${branch}^{commit}`,
      ]);
      return out.toString().trim() || null;
    } catch {
      return null;
    }
  }

  /** Every branch in the mirror with its newest commit (branch → sha), by name. */
  async heads(): Promise<Map<string, string>> {
    const out = await this.git([
      "-C",
      this.dir,
      "for-each-ref",
      "--format=%(objectname) %(refname)",
      "refs/heads/",
    ]);
    const heads = new Map<string, string>();
    for (const line of out.toString("utf8").split("\n")) {
      const m = /^([0-9a-f]{40,64}) refs\/heads\/(.+)$/.exec(line);
      if (m) heads.set(m[2]!, m[1]!);
    }
    return heads;
  }

  async hasCommit(sha: string): Promise<boolean> {
    try {
      await this.git(["-C", this.dir, "cat-file", "-e", `${sha}^{commit}`]);
      return true;
    } catch {
      return false;
    }
  }

  async subject(sha: string): Promise<string> {
    return (await this.git(["-C", this.dir, "log", "-1", "--format=%s", sha])).toString().trim();
  }

  /** The files under `subpath` at `sha`, read from git objects. */
  async tree(sha: string, subpath: string): Promise<GitTree> {
    if (!/^[0-9a-f]{40,64}$/.test(sha)) throw new TendError("TEND_E_GIT", `"${sha}" is not a commit id.`);
    // -l: each blob's size, so a blob over the limit is never read (nor held in memory).
    const listing = await this.git(["-C", this.dir, "ls-tree", "-r", "-l", "-z", "--full-tree", sha]);
    const prefix = subpath ? `${subpath.replace(/\/+$/, "")}/` : "";
    const entries: { mode: string; sha: string; path: string; size: number }[] = [];
    for (const line of listing.toString("utf8").split("\0")) {
      if (!line) continue;
      const tab = line.indexOf("\t");
      const [mode, type, objectSha, size] = line.slice(0, tab).split(/ +/);
      const path = line.slice(tab + 1);
      if (type !== "blob" || !mode || !objectSha || !path.startsWith(prefix)) continue; // submodules are skipped
      entries.push({ mode, sha: objectSha, path: path.slice(prefix.length), size: Number(size) });
    }
    // A large file (over STREAM_FILE_BYTES, within the limit) is not read either: hashed as git
    // streams it, once per blob id, and served to nodes as a stream from the mirror.
    const large = (e: { mode: string; size: number }) =>
      e.mode !== "120000" && e.size > STREAM_FILE_BYTES && e.size <= this.maxFileBytes;
    for (const e of entries)
      if (large(e) && !this.sha256s.has(e.sha)) this.sha256s.set(e.sha, await this.hashBlob(e.sha));
    const wanted = entries.filter((e) => e.mode === "120000" || !(e.size > this.maxFileBytes || large(e)));
    const blobs = new Map<string, Buffer>();
    const missing: string[] = [];
    for (const e of wanted) {
      const held = this.blobs.get(e.sha)?.deref();
      if (held) blobs.set(e.sha, held);
      else missing.push(e.sha);
    }
    for (const [id, data] of missing.length ? await this.catFiles(missing) : []) {
      blobs.set(id, data);
      this.blobs.set(id, new WeakRef(data));
      this.collected.register(data, id);
    }
    const treeId = await this.treeId(sha, subpath);
    return new GitTree(
      `commit ${sha.slice(0, 12)}`,
      entries.map((e) => ({
        path: e.path,
        symlink: e.mode === "120000",
        data: blobs.get(e.sha) ?? (e.size > this.maxFileBytes || large(e) ? null : Buffer.alloc(0)),
        size: e.size,
        id: e.sha,
        ...(large(e) ? { sha256: this.sha256s.get(e.sha) } : {}),
      })),
      this.maxFileBytes,
      treeId,
      (id, size) => this.readBlobSync(id, size),
    );
  }

  /** Whether the mirror holds the blob `id`. */
  async hasBlob(id: string): Promise<boolean> {
    if (!/^[0-9a-f]{40,64}$/.test(id)) return false;
    try {
      await this.git(["-C", this.dir, "cat-file", "-e", `${id}^{blob}`]);
      return true;
    } catch {
      return false;
    }
  }

  /** sha256 of a blob's bytes, hashed as `git cat-file` streams them (never held whole). */
  private hashBlob(id: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const hash = createHash("sha256");
      const out = this.blobStream(id);
      out.on("data", (c: Buffer) => hash.update(c));
      out.on("error", reject);
      out.on("end", () => resolve(hash.digest("hex")));
    });
  }

  /**
   * A blob's bytes as a stream, from `git cat-file blob`: what the server sends a node for a large
   * file. The stream errors (rather than ends) when git fails, so a cut reply is never taken whole.
   */
  blobStream(id: string): Readable {
    if (!/^[0-9a-f]{40,64}$/.test(id)) throw new TendError("TEND_E_GIT", `"${id}" is not a blob id.`);
    const child = spawn("git", ["-C", this.dir, "cat-file", "blob", id], {
      env: gitEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out = new PassThrough();
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      if (stderr.length < 4096) stderr += c.toString();
    });
    child.stdout.pipe(out, { end: false });
    child.on("error", (err) => out.destroy(err));
    child.on("close", (code) => {
      if (code === 0) out.end();
      else
        out.destroy(
          new TendError("TEND_E_GIT", `git cat-file blob ${id} failed: ${stderr.trim() || `exit ${code}`}`),
        );
    });
    out.on("close", () => {
      if (child.exitCode === null) child.kill();
    });
    return out;
  }

  /** A large blob read whole, synchronously: only when a recipe or template itself is that large. */
  private readBlobSync(id: string, size: number): Buffer {
    return execFileSync("git", ["-C", this.dir, "cat-file", "blob", id], {
      env: gitEnv,
      maxBuffer: size + 1024,
      stdio: ["ignore", "pipe", "ignore"],
    });
  }

  /** The git tree id of `subpath` (or the root) at `sha`: equal ids, equal folders. */
  private async treeId(sha: string, subpath: string): Promise<string | undefined> {
    const path = subpath.replace(/\/+$/, "");
    try {
      const out = await this.git(["-C", this.dir, "rev-parse", "--verify", "--quiet", `${sha}:${path}`]);
      return out.toString().trim() || undefined;
    } catch {
      return undefined;
    }
  }

  /** `git cat-file --batch`: every blob in one process. */
  private catFiles(shas: string[]): Promise<Map<string, Buffer>> {
    const unique = [...new Set(shas)];
    return new Promise((resolve, reject) => {
      const child = spawn("git", ["-C", this.dir, "cat-file", "--batch"], {
        env: gitEnv,
        stdio: ["pipe", "pipe", "pipe"],
      });
      const chunks: Buffer[] = [];
      child.stdout.on("data", (c: Buffer) => chunks.push(c));
      child.stderr.resume();
      child.on("error", reject);
      child.on("close", (code) => {
        if (code !== 0) return reject(new TendError("TEND_E_GIT", `git cat-file exited with ${code}`));
        const out = Buffer.concat(chunks);
        const blobs = new Map<string, Buffer>();
        let at = 0;
        while (at < out.length) {
          const nl = out.indexOf(10, at);
          const [sha, , size] = out.subarray(at, nl).toString().split(" ");
          const n = Number(size);
          if (!sha || !Number.isFinite(n)) break;
          blobs.set(sha, out.subarray(nl + 1, nl + 1 + n));
          at = nl + 1 + n + 1;
        }
        resolve(blobs);
      });
      child.stdin.end(unique.map((s) => `${s}\n`).join(""));
    });
  }
}

/**
 * A bare mirror of the recipe repository, read without a working tree: no checkout, so no hooks,
 * filters, LFS or submodules ever run. git is called with argv arrays, never through a shell, with
 * prompts disabled and only ordinary transports allowed (no `ext::`).
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { promisify } from "node:util";
import { TendError } from "../../core/errors.js";
import { DEFAULT_MAX_FILE_BYTES } from "../../core/repo.js";
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
    if (existsSync(`${this.dir}/HEAD`)) {
      await this.git(["-C", this.dir, "fetch", "--prune", "--quiet", "origin"]);
    } else {
      mkdirSync(dirname(this.dir), { recursive: true });
      await this.git(["clone", "--mirror", "--quiet", "--", this.repo, this.dir]);
    }
    return this.head();
  }

  async head(): Promise<string | null> {
    try {
      const out = await this.git([
        "-C",
        this.dir,
        "rev-parse",
        "--verify",
        "--quiet",
        `refs/heads/${this.branch}^{commit}`,
      ]);
      return out.toString().trim() || null;
    } catch {
      return null;
    }
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
    const wanted = entries.filter((e) => e.mode === "120000" || !(e.size > this.maxFileBytes));
    const blobs = await this.catFiles(wanted.map((e) => e.sha));
    return new GitTree(
      `commit ${sha.slice(0, 12)}`,
      entries.map((e) => ({
        path: e.path,
        symlink: e.mode === "120000",
        data: blobs.get(e.sha) ?? (e.size > this.maxFileBytes ? null : Buffer.alloc(0)),
        size: e.size,
      })),
      this.maxFileBytes,
    );
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

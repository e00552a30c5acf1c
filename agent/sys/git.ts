/**
 * git through its command line, as a given user: argv only, a repository URL or revision that
 * starts with "-" never reaches git as an option, nothing prompts (a missing credential fails
 * instead of hanging the run), and the environment cannot point git at another repository.
 */

import { mkdirSync, renameSync } from "node:fs";
import { lchown } from "node:fs/promises";
import { dirname, join } from "node:path";
import { TendError } from "../../core/errors.js";
import { fsyncDir, tempName } from "./atomic-write.js";
import { readIndex } from "./git-repo.js";
import { describeExit, lastLines, run } from "./proc.js";
import { removeTree } from "./tree.js";

/** Who git runs as: the owner of the checkout, so every file it writes is theirs. */
export interface GitUser {
  uid: number;
  gid: number;
  home: string;
}

/** Variables that would make git act on another repository or config than the one named. */
const RELOCATING =
  /^GIT_(DIR|WORK_TREE|INDEX_FILE|OBJECT_DIRECTORY|ALTERNATE_OBJECT_DIRECTORIES|NAMESPACE|CEILING_DIRECTORIES|COMMON_DIR|CONFIG.*|PREFIX)$/;

export function gitEnv(as: GitUser): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!RELOCATING.test(k)) env[k] = v;
  return {
    ...env,
    HOME: as.home,
    LC_ALL: "C",
    LANG: "C",
    GIT_TERMINAL_PROMPT: "0",
    GIT_SSH_COMMAND: process.env.GIT_SSH_COMMAND ?? "ssh -o BatchMode=yes",
  };
}

export interface GitOptions {
  cwd: string;
  as: GitUser;
  signal?: AbortSignal;
}

/** Run git; its stdout, or a coded error with the end of its output. */
export async function git(args: readonly string[], o: GitOptions): Promise<string> {
  const r = await run(["git", ...args], {
    cwd: o.cwd,
    uid: o.as.uid,
    gid: o.as.gid,
    env: gitEnv(o.as),
    signal: o.signal,
  }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT" && err.path === "git")
      throw new TendError(
        "TEND_E_COMMAND_FAILED",
        "git is not installed on this box: add `package: git` to the recipe (git resources come after it).",
      );
    throw new TendError("TEND_E_COMMAND_FAILED", `cannot run git in ${o.cwd}: ${err.message}`);
  });
  if (r.code !== 0)
    throw new TendError(
      "TEND_E_COMMAND_FAILED",
      `git ${args[0]} in ${o.cwd} ${describeExit(r)}: ${lastLines(r.output, 5)}`,
    );
  return r.stdout;
}

/** Whether git exits 0 (a question such as `cat-file -e`), without an error for "no". */
export async function gitSucceeds(args: readonly string[], o: GitOptions): Promise<boolean> {
  const r = await run(["git", ...args], {
    cwd: o.cwd,
    uid: o.as.uid,
    gid: o.as.gid,
    env: gitEnv(o.as),
    signal: o.signal,
  });
  return r.code === 0;
}

/** The refs a remote has (ref name → sha; annotated tags also as `refs/tags/T^{}` → the commit). */
export async function lsRemote(url: string, as: GitUser, signal?: AbortSignal): Promise<Map<string, string>> {
  const out = await git(["ls-remote", "--", url], { cwd: "/", as, signal });
  const refs = new Map<string, string>();
  for (const line of out.split("\n")) {
    const [sha, ref] = line.split("\t");
    if (sha && ref) refs.set(ref, sha);
  }
  return refs;
}

/**
 * Tracked paths with local modifications (changed, deleted, staged), untracked files left out.
 * `readOnly` keeps git from refreshing its index on the way (a plan writes nothing).
 */
export async function modifiedPaths(
  worktree: string,
  as: GitUser,
  readOnly: boolean,
  signal?: AbortSignal,
): Promise<string[]> {
  const args = ["status", "--porcelain=v1", "-z", "--untracked-files=no", "--ignore-submodules=all"];
  const out = await git(readOnly ? ["--no-optional-locks", ...args] : args, { cwd: worktree, as, signal });
  const paths: string[] = [];
  const fields = out.split("\0");
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    if (f.length < 4) continue;
    paths.push(f.slice(3));
    if (f[0] === "R" || f[0] === "C") i++; // a rename's source follows as its own field
  }
  return paths;
}

/** Where a checkout must end up: a commit, and the remote ref that leads to it (null: a sha as such). */
export interface GitTarget {
  sha: string;
  ref: string | null;
}

/** The refspec that fetches `target` into the place a clone would keep it. */
function refspec(target: GitTarget): string {
  if (target.ref === null || target.ref === "HEAD") return target.ref ?? target.sha;
  const branch = /^refs\/heads\/(.+)$/.exec(target.ref);
  return `+${target.ref}:${branch ? `refs/remotes/origin/${branch[1]}` : target.ref}`;
}

/**
 * Put the working tree at `target.sha`, fetching only when the commit is not there yet. `force`
 * discards local modifications of tracked files; untracked files are left alone unless the new
 * commit tracks a file of the same name (git refuses then, and `force` overwrites it).
 */
export async function checkoutCommit(target: GitTarget, force: boolean, o: GitOptions): Promise<void> {
  const has = () => gitSucceeds(["cat-file", "-e", `${target.sha}^{commit}`], o);
  if (!(await has())) {
    await git(["fetch", "-q", "origin", refspec(target)], o);
    // The ref moved again since it was read: fetch the commit itself (servers allow reachable ones).
    if (!(await has())) await git(["fetch", "-q", "origin", target.sha], o);
    // Packed refs carry each annotated tag's commit, so the next check reads it without git.
    if (target.ref?.startsWith("refs/tags/")) await git(["pack-refs", "--all"], o);
  }
  await git(["checkout", "-q", "--detach", ...(force ? ["--force"] : []), target.sha, "--"], o);
}

/**
 * Rewrite the index once the clock has moved past the files just checked out: entries as new as
 * the index are "racily clean" and would make every later check ask git instead of reading stat.
 */
export async function settleIndex(gitDir: string, o: GitOptions): Promise<void> {
  const index = readIndex(gitDir);
  if (!index?.entries.some((e) => e.mtimeMs >= index.mtimeMs)) return;
  const wait = index.mtimeMs + 20 - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  await git(["update-index", "-q", "--refresh", "--force-write-index"], o);
}

/**
 * A new checkout of `target` at `path`: cloned into a temp directory beside it, owned by `o.as`,
 * and renamed into place once complete, so a failed clone never leaves half a checkout.
 */
export async function cloneInto(
  path: string,
  repository: string,
  target: GitTarget,
  o: GitOptions,
): Promise<void> {
  const temp = tempName(path);
  mkdirSync(temp, { mode: 0o755 });
  try {
    await lchown(temp, o.as.uid, o.as.gid);
    const here = { ...o, cwd: temp };
    await git(["init", "-q"], here);
    await git(["remote", "add", "origin", repository], here);
    await checkoutCommit(target, false, here);
    await settleIndex(join(temp, ".git"), here);
    renameSync(temp, path);
    await fsyncDir(dirname(path));
  } catch (err) {
    // The temp clone is its owner's: removed without following anything they may have linked.
    await removeTree(temp, o.signal);
    throw err;
  }
}

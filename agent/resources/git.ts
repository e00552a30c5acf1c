/**
 * `git`: a checkout of a repository at a branch, a tag or a commit. The no-op check reads .git
 * (HEAD, refs, config, the index) and lstats the tracked files, as `git status` would, without a
 * process; git runs only when a file's stat differs from the index (to tell a touch from an edit).
 * A branch costs one `git ls-remote` per repository and run, shared by every checkout of it; a
 * commit sha, or a tag already fetched, costs no network at all.
 */
import { lstatSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { TendError } from "../../core/errors.js";
import type { KindSpec } from "../../core/kind-spec.js";
import type { CatalogResource, Change } from "../../core/types.js";
import { Accounts } from "../sys/accounts.js";
import { checkParents } from "../sys/atomic-write.js";
import {
  checkoutCommit,
  cloneInto,
  type GitTarget,
  type GitUser,
  git,
  lsRemote,
  modifiedPaths,
  settleIndex,
} from "../sys/git.js";
import {
  gitDirOf,
  gitDirStat,
  originUrl,
  readHead,
  readIndex,
  readRef,
  statDiffers,
} from "../sys/git-repo.js";
import { chownTree, sweepStale } from "../sys/tree.js";
import { wantedIds } from "./file-meta.js";
import {
  type CheckResult,
  type Kind,
  type KindContext,
  ownership,
  pathName,
  type WatchSpec,
} from "./kind.js";

export interface GitParams {
  repository: string;
  revision: string;
  owner?: string;
  group?: string;
  force?: boolean;
}

export const spec: KindSpec = {
  type: "git",
  description:
    "A git checkout at an absolute path (the resource name): a repository at a branch, a tag or a commit.",
  notes: `The working tree is kept at the wanted commit with a detached HEAD. A **branch** (or \`HEAD\`,
the remote's default branch) is followed: each run asks the remote once where it points
(\`git ls-remote\`, one per repository and run however many checkouts use it) and fetches only when
it moved. A **tag** is resolved on the remote the first time and then from the checkout's own refs:
tags are taken not to move (to follow a re-pointed tag, use its commit sha). A **commit sha** (40 hex
digits) never touches the network once checked out. A local modification of a tracked file is drift:
with \`force: true\` it is discarded (the plan shows its diff); without, the resource fails and says
which files differ. Untracked files (build output, logs) are left alone; submodules are not checked
out. The check reads \`.git\` and lstats the tracked files; git runs only when a file's size or mtime
differs from the index. git runs as the owner of the checkout (\`owner\`/\`group\`, else whoever owns
the directory), so every file it writes is theirs and git's safe.directory check never trips on the
checkout (a repository given as a local path must belong to that user too, or git refuses to read
it, rightly). A new checkout is cloned beside the path and renamed into place: a failed clone never
leaves half a checkout. A checkout comes after its nearest managed parent directory, its owner and
group, and \`package: git\`; a change notifies like any other (deploy the app, restart its service).`,
  name: pathName("Where the working tree lives."),
  name_is_path: true,
  attributes: {
    repository: {
      title: "Repository",
      description: "The URL git clones from (https://, ssh://, user@host:path, or a local path).",
      type: "string",
      pattern: "^[^-\\s]\\S*$",
      "x-hint": 'a URL such as "https://github.com/example/app.git"',
    },
    revision: {
      title: "Revision",
      description:
        "A branch (followed), a tag, a full commit sha (40 hex digits), or HEAD: the remote's default branch.",
      type: "string",
      pattern: "^[^-\\s]\\S*$",
      default: "HEAD",
    },
    owner: {
      ...ownership.owner,
      description:
        "The user who owns the checkout and runs git. Unset: whoever owns the directory (root for a new one).",
    },
    group: {
      ...ownership.group,
      description:
        "The checkout's group. Unset: the owner's primary group for a new checkout, else as found.",
    },
    force: {
      title: "Force",
      description:
        "Discard local modifications of tracked files. Default false: a modified checkout fails the resource.",
      type: "boolean",
    },
  },
  required: ["revision"],
  mandatory: ["repository"],
  liquid: ["repository", "revision"],
  edges: [
    { after: "file", ancestor: "name" },
    { after: "user", param: "owner" },
    { after: "group", param: "group" },
    { after: "package", names: ["git"] },
  ],
};

const FULL_SHA = /^[0-9a-f]{40}$/;
const LISTED = 10;
const MAX_DIFF = 64 * 1024;

/** Per run: the account database and one ls-remote per (repository, user). */
interface Prefetched {
  accounts: Accounts;
  remotes: Map<string, Promise<Map<string, string>>>;
}

function runOf(ctx: KindContext): Prefetched {
  return (ctx.prefetched as Prefetched | undefined) ?? { accounts: new Accounts(), remotes: new Map() };
}

function remoteRefs(url: string, as: GitUser, ctx: KindContext): Promise<Map<string, string>> {
  const { remotes } = runOf(ctx);
  const key = `${as.uid}\0${url}`;
  let refs = remotes.get(key);
  if (!refs) {
    refs = lsRemote(url, as, ctx.signal);
    refs.catch(() => remotes.delete(key));
    remotes.set(key, refs);
  }
  return refs;
}

/** Who git runs as: the wanted owner, else the directory's (root for a new checkout). */
function gitUser(
  p: GitParams,
  r: CatalogResource,
  ctx: KindContext,
  found?: { uid: number; gid: number },
): GitUser {
  const { accounts } = runOf(ctx);
  const ids = wantedIds(p, accounts, r.id);
  const uid = ids.uid ?? found?.uid ?? 0;
  const gid = ids.gid ?? (found ? found.gid : ids.uid !== undefined ? accounts.userById(uid)?.gid : 0) ?? 0;
  return { uid, gid, home: accounts.userById(uid)?.home ?? "/" };
}

/**
 * The commit the resource wants, and the ref that leads there: a tag from the checkout's own refs
 * (`local`, read as the checkout's owner), else from the remote, asked as `remoteAs`, whose
 * credentials (~/.ssh) open it.
 */
async function target(
  p: GitParams,
  local: { gitDir: string; worktree: string; as: GitUser; origin?: string | null } | null,
  remoteAs: GitUser,
  r: CatalogResource,
  ctx: KindContext,
): Promise<GitTarget> {
  const rev = p.revision;
  if (FULL_SHA.test(rev)) return { sha: rev, ref: null };
  const origin = () => (local?.origin !== undefined ? local.origin : originUrl(local!.gitDir));
  if (local && rev !== "HEAD" && !rev.startsWith("refs/") && origin() === p.repository) {
    const ref = `refs/tags/${rev}`;
    const tag = readRef(local.gitDir, ref);
    if (tag?.peeled) return { sha: tag.peeled, ref };
    if (tag) {
      const o = { cwd: local.worktree, as: local.as, signal: ctx.signal };
      return { sha: (await git(["rev-parse", "--verify", "-q", `${ref}^{commit}`], o)).trim(), ref };
    }
  }
  const refs = await remoteRefs(p.repository, remoteAs, ctx);
  const names = rev === "HEAD" || rev.startsWith("refs/") ? [rev] : [`refs/tags/${rev}`, `refs/heads/${rev}`];
  for (const ref of names) {
    const sha = refs.get(`${ref}^{}`) ?? refs.get(ref);
    if (sha) return { sha, ref };
  }
  throw new TendError(
    "TEND_E_GIT_REVISION",
    `${r.id}: ${p.repository} has no branch or tag "${rev}"; give a branch, a tag or a full commit sha.`,
  );
}

function listed(paths: string[]): string[] {
  return paths.length > LISTED ? [...paths.slice(0, LISTED), `… and ${paths.length - LISTED} more`] : paths;
}

async function check(r: CatalogResource, ctx: KindContext): Promise<CheckResult> {
  const p = r.params as unknown as GitParams;
  const path = r.name;
  checkParents(path, false);
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st && !st.isDirectory())
    throw new TendError(
      "TEND_E_GIT_PATH",
      `${r.id}: ${path} is not a directory; remove it, or check out elsewhere.`,
    );
  const found = st ? gitDirStat(path) : null;
  const gitDir = found?.dir ?? null;
  if (!gitDir) {
    if (st && readdirSync(path).length > 0)
      throw new TendError(
        "TEND_E_GIT_PATH",
        `${r.id}: ${path} is a directory with files but not a git checkout; tend clones only into a new or empty directory. Move it away.`,
      );
    const want = await target(p, null, gitUser(p, r, ctx), r, ctx);
    return { changes: [{ property: "revision", from: "absent", to: want.sha }] };
  }
  // Local reads as whoever owns the checkout now; the remote as who will own it (their credentials).
  const as = gitUser({ ...p, owner: undefined, group: undefined }, r, ctx, st);
  const o = { cwd: path, as, signal: ctx.signal };
  const changes: Change[] = [];
  const origin = originUrl(gitDir);
  if (origin !== p.repository) changes.push({ property: "repository", from: origin, to: p.repository });
  const head = readHead(gitDir);
  const want = await target(p, { gitDir, worktree: path, as, origin }, gitUser(p, r, ctx, st), r, ctx);
  if (head !== want.sha) changes.push({ property: "revision", from: head, to: want.sha });

  const index = readIndex(gitDir);
  const stats = index ? statDiffers(path, index) : null;
  const modified =
    !stats || stats.suspects.length > 0 ? await modifiedPaths(path, as, ctx.noop, ctx.signal) : [];
  let diff: string | null = null;
  if (modified.length > 0) {
    if (!p.force)
      throw new TendError(
        "TEND_E_GIT_DIRTY",
        `${r.id}: ${path} has local modifications (${listed(modified).join(", ")}); tend discards them only with force: true. Commit or revert them, or set force: true.`,
      );
    changes.push({ property: "modified", from: listed(modified), to: [] });
    const text = await git(["--no-optional-locks", "diff", "--no-color", "HEAD"], o);
    diff =
      text.length > MAX_DIFF ? `${text.slice(0, MAX_DIFF)}\n… (diff cut at ${MAX_DIFF} characters)` : text;
  }
  // The checkout, its tracked files, and what git writes on a fetch (a `sudo git pull` leaves
  // root's objects there, and the owner's next fetch would fail on them).
  const dirSt = found?.st ?? lstatSync(gitDir, { throwIfNoEntry: false });
  const objects = lstatSync(join(gitDir, "objects"), { throwIfNoEntry: false });
  const own = [st!, ...(index ? [index] : []), ...(dirSt ? [dirSt] : []), ...(objects ? [objects] : [])];
  const uids = [...own.map((s) => s.uid), ...(stats?.uids ?? [])];
  changes.push(...ownerChanges(p, r, ctx, uids, [...own.map((s) => s.gid), ...(stats?.gids ?? [])]));
  return { changes, diff };
}

function ownerChanges(
  p: GitParams,
  r: CatalogResource,
  ctx: KindContext,
  uids: Iterable<number>,
  gids: Iterable<number>,
): Change[] {
  const { accounts } = runOf(ctx);
  const ids = wantedIds(p, accounts, r.id);
  const changes: Change[] = [];
  const uid = ids.uid === undefined ? undefined : [...uids].find((u) => u !== ids.uid);
  if (uid !== undefined)
    changes.push({ property: "owner", from: accounts.userById(uid)?.name ?? uid, to: p.owner! });
  const gid = ids.gid === undefined ? undefined : [...gids].find((g) => g !== ids.gid);
  if (gid !== undefined)
    changes.push({ property: "group", from: accounts.groupById(gid)?.name ?? gid, to: p.group! });
  return changes;
}

async function apply(r: CatalogResource, changes: Change[], ctx: KindContext): Promise<undefined> {
  const p = r.params as unknown as GitParams;
  const path = r.name;
  checkParents(path, false);
  const st = lstatSync(path, { throwIfNoEntry: false });
  const gitDir = st ? gitDirOf(path) : null;
  if (!st || !gitDir) {
    const as = gitUser(p, r, ctx);
    await cloneInto(path, p.repository, await target(p, null, as, r, ctx), {
      cwd: dirname(path),
      as,
      signal: ctx.signal,
    });
    return undefined;
  }
  const props = new Set(changes.map((c) => c.property));
  const as = gitUser(p, r, ctx, st);
  if (props.has("owner") || props.has("group")) await chownTree(path, as.uid, as.gid, ctx.signal);
  const o = { cwd: path, as, signal: ctx.signal };
  if (props.has("repository"))
    await git(
      originUrl(gitDir) === null
        ? ["remote", "add", "origin", p.repository]
        : ["remote", "set-url", "origin", p.repository],
      o,
    );
  if (props.has("revision") || props.has("modified")) {
    const want = await target(p, { gitDir, worktree: path, as }, as, r, ctx);
    await checkoutCommit(want, props.has("modified"), o);
    await settleIndex(gitDir, o);
  }
  return undefined;
}

/**
 * Per run: the account database; and, when the run may write, clones a killed run left half-made
 * beside the managed paths are removed (the engine holds the run lock, so none is in flight).
 */
async function prefetch(
  resources: CatalogResource[],
  ctx: Omit<KindContext, "prefetched">,
): Promise<Prefetched> {
  if (!ctx.noop)
    for (const res of resources) if (res.type === "git") await sweepStale(res.name, ctx.log, ctx.signal);
  return { accounts: new Accounts(), remotes: new Map() };
}

/**
 * Watch mode: the working tree's top and .git (a commit, checkout or reset rewrites HEAD or the
 * index there); an edit deeper in the tree waits for the next scheduled run.
 */
function watch(r: CatalogResource): WatchSpec {
  return { paths: [r.name, join(r.name, ".git")] };
}

export const gitKind: Kind = { type: "git", spec, prefetch, check, apply, watch };

/**
 * `file`: a regular file (content, mode, owner), a directory, a symlink, or nothing at a path.
 * The no-op path is one lstat, one read and one sha256 per file with content, compared with
 * `content_sha256`: the wanted bytes are fetched (ctx.content) only for a diff or a write. Writes are
 * atomic (agent/sys/atomic-write.ts) and the replaced content goes to the backup store first.
 */
import { promises as fsp, lstatSync, type Stats, statSync } from "node:fs";
import { dirname } from "node:path";
import { TendError } from "../../core/errors.js";
import type { KindSpec } from "../../core/kind-spec.js";
import type { CatalogResource, Change } from "../../core/types.js";
import { BackupStore } from "../store/file-backups.js";
import { Accounts } from "../sys/accounts.js";
import {
  atomicSymlink,
  atomicWrite,
  checkParents,
  resolveWriteTarget,
  sweepStaleTemps,
  syncDirs,
} from "../sys/atomic-write.js";
import {
  contentDiff,
  type DiffSide,
  differingContent,
  MAX_DIFF_BYTES,
  modeString,
  parseMode,
  readFlags,
} from "./file-content.js";
import { metaChanges, setMeta, wantedIds } from "./file-meta.js";
import {
  type CheckResult,
  ensure,
  type Kind,
  type KindContext,
  mode,
  ownership,
  pathName,
  type WatchSpec,
} from "./kind.js";

export interface FileParams {
  ensure: "file" | "directory" | "link" | "absent";
  content_sha256?: string;
  target?: string;
  mode?: string;
  owner?: string;
  group?: string;
  follow_symlink?: boolean;
  backup?: boolean;
  sensitive?: boolean;
}

/**
 * Whether a file's content may be shown (TRUST L1): not when the recipe says `sensitive: true`,
 * nor, unless it says `sensitive: false`, when the wanted mode or the mode found on the box keeps
 * the file from other users (a secret's usual mode, 0600 or 0640). Its diff is then replaced by a
 * note; the change itself is still named by sha256.
 */
export function hidden(p: FileParams, liveMode: number | null): string | null {
  if (p.sensitive === false) return null;
  if (p.sensitive === true) return "content hidden (sensitive: true)";
  if (p.mode !== undefined && (parseMode(p.mode) & 0o004) === 0)
    return `content hidden (mode ${p.mode} is not readable by others; sensitive: false shows it)`;
  if (liveMode !== null && (liveMode & 0o004) === 0)
    return `content hidden (the file on this box, mode ${modeString(liveMode)}, is not readable by others; sensitive: false shows it)`;
  return null;
}

export const spec: KindSpec = {
  type: "file",
  description: "A regular file, a directory, a symlink, or nothing at an absolute path (the resource name).",
  notes: `Writes atomically (a 0600 temp file in the same directory, fsync, owner and mode set, rename,
directory fsync) and keeps replaced or removed content in \`STATE_DIR/backups\`
(\`tend backup list [PATH]\`, \`tend backup restore PATH [--at ID]\`). A symlink where a file or
directory should be is refused unless \`follow_symlink: true\`; tend replaces neither a directory with
a file nor the reverse, and removes only empty directories. A file replaced keeps its owner and mode
unless the resource names them. The check is one \`lstat\`; content is read only when the sizes
match, and compared byte for byte. Text changes are shown as a unified diff. A file comes after its
nearest managed parent directory and its owner and group.`,
  name: pathName("The absolute path."),
  name_is_path: true,
  attributes: {
    ensure: ensure(
      ["file", "directory", "link", "absent"],
      "What must be at the path: a regular `file` (the default; `link` when a `target` is given), a `directory`, a symlink (`link`), or nothing (`absent`).",
    ),
    content: { title: "Content", description: "The file's exact content.", type: "string" },
    source: {
      title: "Source",
      description:
        "A file of the recipe, relative to its folder (e.g. files/sshd.conf), copied byte for byte.",
      type: "string",
      minLength: 1,
    },
    template: {
      title: "Template",
      description: "A Liquid template in the recipe's templates/ folder, rendered with vars, facts and node.",
      type: "string",
      minLength: 1,
    },
    target: {
      title: "Link target",
      description: "Where the symlink points (ensure: link).",
      type: "string",
      minLength: 1,
    },
    mode: mode('Permission bits, e.g. "0644". New files default to 0644, new directories to 0755.'),
    ...ownership,
    follow_symlink: {
      title: "Follow symlink",
      description:
        "Manage the file a symlink at the path points to. Default false: a symlink where a file or directory should be is refused.",
      type: "boolean",
    },
    backup: {
      title: "Backup",
      description:
        "Keep replaced or removed content in the local backup store (`tend backup list`). Default true.",
      type: "boolean",
    },
    sensitive: {
      title: "Sensitive",
      description:
        'Never show this file\'s content: no diff in plans, output, reports or the dashboard (a content change is still named, by sha256). Default: true when the wanted mode, or the mode of the file found on the box, is not readable by others (e.g. "0600", "0640"); set false to see such a file\'s diffs.',
      type: "boolean",
    },
  },
  required: ["ensure"],
  infer: [{ param: "ensure", when_given: "target", value: "link" }],
  content: { param: "content_sha256", content: "content", source: "source", template: "template" },
  rules: [
    { key: "content", only_when: "ensure", is: ["file"] },
    { key: "source", only_when: "ensure", is: ["file"] },
    { key: "template", only_when: "ensure", is: ["file"] },
    { key: "target", only_when: "ensure", is: ["link"] },
    { key: "target", required_when: "ensure", is: "link" },
  ],
  edges: [
    { after: "file", ancestor: "name" },
    { after: "user", param: "owner" },
    { after: "group", param: "group" },
  ],
};

/**
 * Per run: the account database (read once, re-read on a miss), the backup store, and the
 * directories renamed into, fsynced once each when the run settles rather than once per file.
 */
interface Prefetched {
  accounts: Accounts;
  backups: BackupStore;
  syncLater: Set<string>;
}

function accountsOf(ctx: KindContext): Accounts {
  return (ctx.prefetched as Prefetched | undefined)?.accounts ?? new Accounts();
}

/** Without a prefetch (a kind called on its own), every directory is fsynced at once. */
function runOf(ctx: KindContext): { backups: BackupStore; syncLater?: Set<string> } {
  return (ctx.prefetched as Prefetched | undefined) ?? { backups: new BackupStore(ctx.stateDir) };
}

function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return "link";
  if (st.isDirectory()) return "directory";
  if (st.isFile()) return "file";
  return "other";
}

const UNIT_DIRS = [
  "/etc/systemd/system/",
  "/lib/systemd/system/",
  "/usr/lib/systemd/system/",
  "/run/systemd/system/",
];

interface Live {
  /** lstat of the path itself. */
  lst: Stats | undefined;
  /** stat of what is managed: the path, or the symlink's target when following. */
  st: Stats | undefined;
}

function inspect(path: string, p: FileParams): Live {
  // Before anything is read, written, chowned or removed: no user-planted link on the way there.
  checkParents(path, p.follow_symlink ?? false);
  const lst = lstatSync(path, { throwIfNoEntry: false });
  if (!lst?.isSymbolicLink() || p.ensure === "link" || p.ensure === "absent") return { lst, st: lst };
  resolveWriteTarget(path, p.follow_symlink ?? false); // throws when refused or dangling
  return { lst, st: statSync(path) };
}

function typeMismatch(id: string, path: string, found: string, wanted: string): TendError {
  return new TendError(
    "TEND_E_FILE_TYPE",
    `${id}: ${path} is a ${found} but a ${wanted} is wanted; tend does not replace a ${found} with a ${wanted}. Remove it first.`,
  );
}

async function check(r: CatalogResource, ctx: KindContext): Promise<CheckResult> {
  const p = r.params as unknown as FileParams;
  const path = r.name;
  const { lst, st } = inspect(path, p);
  const accounts = accountsOf(ctx);
  const found = lst ? kindOf(lst) : "absent";
  switch (p.ensure) {
    case "absent":
      return { changes: lst ? [{ property: "ensure", from: found, to: "absent" }] : [] };
    case "link": {
      if (!lst) return { changes: [{ property: "ensure", from: "absent", to: "link" }] };
      if (lst.isDirectory()) throw typeMismatch(r.id, path, "directory", "link");
      const changes: Change[] = [];
      if (!lst.isSymbolicLink()) changes.push({ property: "ensure", from: found, to: "link" });
      else {
        const now = await fsp.readlink(path);
        if (now !== p.target) changes.push({ property: "target", from: now, to: p.target ?? null });
      }
      if (lst.isSymbolicLink()) changes.push(...metaChanges(p, lst, accounts, r.id, false));
      return { changes };
    }
    case "directory":
      if (!st) return { changes: [{ property: "ensure", from: "absent", to: "directory" }] };
      if (!st.isDirectory()) throw typeMismatch(r.id, path, kindOf(st), "directory");
      return { changes: metaChanges(p, st, accounts, r.id, true) };
    case "file": {
      if (!st) {
        const note = hidden(p, null);
        const want = p.content_sha256 && !note ? await wantedForDiff(ctx, p.content_sha256) : null;
        return {
          changes: [{ property: "ensure", from: "absent", to: "file" }],
          diff: note && p.content_sha256 ? note : want ? await contentDiff(path, null, want) : null,
        };
      }
      if (!st.isFile()) throw typeMismatch(r.id, path, kindOf(st), "file");
      const changes: Change[] = [];
      let diff: string | null = null;
      if (p.content_sha256) {
        // The live file's hash against the wanted one: the wanted bytes are fetched only for a diff.
        const have = differingContent(path, p.content_sha256, p.follow_symlink ?? false);
        if (have !== null) {
          changes.push({
            property: "content",
            from: `sha256:${have.sha256}`,
            to: `sha256:${p.content_sha256}`,
          });
          diff =
            hidden(p, st.mode) ??
            (await contentDiff(
              path,
              have.data ?? { size: have.size },
              await wantedForDiff(ctx, p.content_sha256),
            ));
        }
      }
      changes.push(...metaChanges(p, st, accounts, r.id, true));
      return { changes, diff };
    }
  }
}

/**
 * The wanted bytes for a diff, or only their size when too large to diff (a large file is not
 * fetched whole into memory for a sentence saying it is too large).
 */
async function wantedForDiff(ctx: KindContext, sha: string): Promise<DiffSide> {
  const size = ctx.contentSize?.(sha) ?? (await ctx.contentFile?.(sha))?.size;
  if (size !== undefined && size > MAX_DIFF_BYTES) return { size };
  return ctx.content(sha);
}

async function backupFile(ctx: KindContext, p: FileParams, path: string, st: Stats): Promise<void> {
  if (p.backup === false || !st.isFile()) return;
  const fh = await fsp.open(path, readFlags(p.follow_symlink ?? false));
  try {
    const now = await fh.stat();
    if (!now.isFile()) return;
    // A large file is copied into the store in chunks; a small one read whole, as before.
    const old = now.size > MAX_DIFF_BYTES ? fh : await fh.readFile();
    await runOf(ctx).backups.save(path, old, st);
  } finally {
    await fh.close();
  }
}

async function apply(r: CatalogResource, changes: Change[], ctx: KindContext): Promise<undefined> {
  const p = r.params as unknown as FileParams;
  const path = r.name;
  const { lst, st } = inspect(path, p);
  const accounts = accountsOf(ctx);
  const { syncLater } = runOf(ctx);
  const later = (dir: string) => (syncLater ? syncLater.add(dir) : undefined);
  const ids = p.ensure === "absent" ? {} : wantedIds(p, accounts, r.id);
  const props = new Set(changes.map((c) => c.property));
  switch (p.ensure) {
    case "absent":
      if (!lst) return;
      if (lst.isDirectory()) {
        await fsp.rmdir(path).catch((err: NodeJS.ErrnoException) => {
          if (err.code === "ENOTEMPTY")
            throw new TendError(
              "TEND_E_FILE_TYPE",
              `${r.id}: ${path} is a directory that is not empty; tend removes only empty directories.`,
            );
          throw err;
        });
        later(dirname(path));
        return;
      }
      await backupFile(ctx, p, path, lst);
      await fsp.unlink(path);
      later(dirname(path));
      return;
    case "link":
      if (!lst || props.has("ensure") || props.has("target")) {
        if (lst?.isFile()) await backupFile(ctx, p, path, lst);
        await atomicSymlink(path, p.target ?? "", syncLater);
      }
      await setMeta(p, path, ids, true);
      return;
    case "directory":
      if (!st) {
        await fsp.mkdir(path, { mode: 0o700 });
        later(dirname(path));
        await setMeta({ ...p, mode: p.mode ?? "0755" }, path, ids, false);
      } else await setMeta(p, path, ids, false);
      return;
    case "file": {
      if (!st || props.has("content")) {
        // Content not carried inline is copied from disk in chunks and hash-checked on the way.
        const big = p.content_sha256 ? await ctx.contentFile?.(p.content_sha256) : null;
        const data = big
          ? { file: big.path, sha256: p.content_sha256! }
          : p.content_sha256
            ? await ctx.content(p.content_sha256)
            : Buffer.alloc(0);
        if (st && props.has("content")) await backupFile(ctx, p, path, st);
        const mode = p.mode !== undefined ? parseMode(p.mode) : st ? st.mode & 0o7777 : 0o644;
        // Keep the owner of a file being replaced unless the resource names one.
        await atomicWrite(path, data, {
          mode,
          uid: ids.uid ?? st?.uid,
          gid: ids.gid ?? st?.gid,
          followSymlink: p.follow_symlink ?? false,
          syncLater,
        });
        if (UNIT_DIRS.some((d) => path.startsWith(d))) ctx.run.daemonReloadNeeded = true;
      } else {
        await setMeta(p, resolveWriteTarget(path, p.follow_symlink ?? false), ids, false);
      }
      return;
    }
  }
}

/**
 * Per run: the account database; and, when the run may write, the temp files a killed run left
 * beside the managed paths are removed (the engine holds the run lock, so none is in flight).
 */
async function prefetch(
  resources: CatalogResource[],
  ctx: Omit<KindContext, "prefetched">,
): Promise<Prefetched> {
  if (!ctx.noop) {
    const dirs = new Set(resources.filter((r) => r.type === "file").map((r) => dirname(r.name)));
    for (const d of dirs)
      for (const gone of sweepStaleTemps(d)) ctx.log(`removed ${gone}, left by an interrupted run`);
  }
  const backups = new BackupStore(ctx.stateDir);
  if (!ctx.noop)
    for (const gone of backups.sweepSpools()) ctx.log(`removed ${gone}, left by an interrupted run`);
  return { accounts: new Accounts(), backups, syncLater: new Set() };
}

/** The end of an apply run: each directory renamed into (or changed) is fsynced once. */
async function settle(prefetched: unknown): Promise<void> {
  await syncDirs((prefetched as Prefetched).syncLater);
}

/** Watch mode: the path (a replaced, removed or re-moded file or directory is an event on its name). */
function watch(r: CatalogResource): WatchSpec {
  return { paths: [r.name] };
}

export const file: Kind = { type: "file", spec, prefetch, check, apply, settle, watch };

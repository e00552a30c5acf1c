/**
 * Whole directory trees that a user other than root may own (a checkout, an extracted archive):
 * removed and chowned with coreutils, whose fts walk works from directory descriptors and never
 * follows a symlink (a walk by path names in Node could be steered, mid-way, into /etc by the
 * tree's owner swapping a directory for a link). And the temp names a killed run left beside a
 * managed path, swept before a run writes there.
 */
import { lstatSync, readdirSync, unlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { TendError } from "../../core/errors.js";
import { describeExit, lastLines, run } from "./proc.js";

async function tool(argv: string[], what: string, signal?: AbortSignal): Promise<void> {
  const r = await run(argv, { signal });
  if (r.code !== 0)
    throw new TendError("TEND_E_COMMAND_FAILED", `${what} ${describeExit(r)}: ${lastLines(r.output, 5)}`);
}

/** rm -rf, staying on the tree's file system. */
export function removeTree(path: string, signal?: AbortSignal): Promise<void> {
  return tool(["rm", "-rf", "--one-file-system", "--", path], `removing ${path}`, signal);
}

/** Give a whole tree to uid:gid, symlinks themselves rather than what they point to. */
export function chownTree(path: string, uid: number, gid: number, signal?: AbortSignal): Promise<void> {
  return tool(["chown", "-R", "--no-dereference", `${uid}:${gid}`, "--", path], `chown -R ${path}`, signal);
}

/** tend's temp names beside `path` (`.NAME.tend-<12 hex>.tmp`, as atomic-write's tempName makes them). */
function staleName(path: string): RegExp {
  const name = basename(path).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^\\.${name}\\.tend-[0-9a-f]{12}\\.tmp$`);
}

/**
 * Remove the temp files and trees a killed run left beside `path` (a half download, a half clone).
 * Call only while holding the run lock: another run's temp in flight would look the same.
 */
export async function sweepStale(
  path: string,
  log: (m: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  const dir = dirname(path);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const stale = staleName(path);
  for (const n of names) {
    if (!stale.test(n)) continue;
    const p = join(dir, n);
    if (lstatSync(p, { throwIfNoEntry: false })?.isDirectory()) await removeTree(p, signal);
    else unlinkSync(p);
    log(`removed ${p}, left by an interrupted run`);
  }
}

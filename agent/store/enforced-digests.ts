/**
 * What the agent remembers between runs for drift versus deploy: the digest of each resource's
 * desired state as last enforced (in sync after a check or an apply). A resource that has to change
 * although its digest equals the remembered one had drifted; one whose digest is new is a deploy.
 *
 * One small JSON file, `state.json` in state_dir, read once at the start of a run and replaced
 * atomically (temp file, fsync, rename, directory fsync) at its end, and only when something in it
 * changed: a no-change run writes nothing. Digests are kept to 128 bits, plenty to tell two desired
 * states apart, which keeps 10,000 resources well under a megabyte.
 */
import { constants, promises as fsp } from "node:fs";
import { join } from "node:path";
import { fsyncDir } from "../sys/atomic-write.js";

export const STATE_FILE = "state.json";
const DIGEST_CHARS = 32;

/** Resource id → truncated digest of its desired state as last enforced. */
export type Enforced = Map<string, string>;

export function shortDigest(digest: string): string {
  return digest.slice(0, DIGEST_CHARS);
}

/** The enforced digests; empty when the file is missing or unreadable (every change then counts as a deploy). */
export async function loadEnforced(stateDir: string): Promise<Enforced> {
  let text: string;
  try {
    text = await fsp.readFile(join(stateDir, STATE_FILE), "utf8");
  } catch {
    return new Map();
  }
  try {
    const data = JSON.parse(text) as { format?: number; enforced?: Record<string, unknown> };
    const out: Enforced = new Map();
    if (data.format !== 1 || !data.enforced || typeof data.enforced !== "object") return out;
    for (const [id, digest] of Object.entries(data.enforced))
      if (typeof digest === "string") out.set(id, digest);
    return out;
  } catch {
    return new Map();
  }
}

export function sameEnforced(a: Enforced, b: Enforced): boolean {
  if (a.size !== b.size) return false;
  for (const [id, digest] of a) if (b.get(id) !== digest) return false;
  return true;
}

/** Replace state.json with `enforced`, atomically and durably. */
export async function saveEnforced(stateDir: string, enforced: Enforced): Promise<void> {
  const body = JSON.stringify({ format: 1, enforced: Object.fromEntries(enforced) });
  const path = join(stateDir, STATE_FILE);
  // A fixed temp name: only the lock holder writes it, and a crash leaves at most this one file,
  // which the next run's write truncates and reuses.
  const temp = `${path}.tmp`;
  const h = await fsp.open(
    temp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    await h.writeFile(body);
    await h.sync();
  } finally {
    await h.close();
  }
  await fsp.rename(temp, path);
  await fsyncDir(stateDir);
}

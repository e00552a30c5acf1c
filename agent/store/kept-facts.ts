/**
 * The facts of the last full run, kept in `state_dir/facts.json` (0600) for watch runs. A full run
 * (scheduled, pushed, by hand) gathers facts to ask for its catalog, and keeps them; a watch run
 * asks the server for nothing and repairs within a second, so it takes the kept ones instead of
 * gathering again (the fqdn alone may wait up to 300 ms on DNS). Kinds see them as `ctx.facts`: at
 * most one schedule interval old, as the catalog itself is. Missing or damaged (not valid against
 * schemas/facts.schema.json): the watch run gathers them, as before.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { isValid } from "../../core/schema.js";
import type { Facts } from "../../core/types.js";
import { writePrivate } from "../client/identity.js";

export const FACTS_FILE = "facts.json";

/** The kept facts, or null when there are none or they do not validate. */
export async function keptFacts(stateDir: string): Promise<Facts | null> {
  try {
    const data: unknown = JSON.parse(await readFile(join(stateDir, FACTS_FILE), "utf8"));
    return isValid("facts", data) ? (data as Facts) : null;
  } catch {
    return null;
  }
}

/** Keeps `facts` (temp file and rename) unless the file already holds them. */
export async function keepFacts(stateDir: string, facts: Facts): Promise<void> {
  const text = `${JSON.stringify(facts)}\n`;
  const path = join(stateDir, FACTS_FILE);
  if ((await readFile(path, "utf8").catch(() => null)) === text) return;
  await writePrivate(path, text);
}

/**
 * The facts a run works with: a watch run's are the kept ones when there are any; other runs
 * gather them (`gather`) and, unless they change nothing (`keep: false`: a plan), keep them for
 * the watch runs after them.
 */
export async function runFacts(
  stateDir: string,
  o: { watch: boolean; keep: boolean },
  gather: () => Promise<Facts>,
): Promise<Facts> {
  const kept = o.watch ? await keptFacts(stateDir) : null;
  if (kept) return kept;
  const facts = await gather();
  if (o.keep) await keepFacts(stateDir, facts);
  return facts;
}

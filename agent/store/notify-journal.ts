/**
 * The pending-notification journal (TRUST.md G3). When a resource that notifies others is about to
 * change, the engine records "TARGET is owed a refresh from SOURCE" here and fsyncs it before the
 * change starts; it records "TARGET done" once the refresh was delivered. A run killed anywhere in
 * between leaves the notification pending, and the next run delivers it at the target's turn.
 *
 * The file, `notify.journal` in state_dir, is JSON lines appended with O_APPEND and fsynced: a torn
 * last line (a kill mid-append) is ignored, which is safe because the change it announced had not
 * started. At the end of a run the journal is compacted: removed when nothing is pending, else
 * rewritten atomically with only the pending entries. Noop runs only read it.
 */
import { constants, promises as fsp } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { fsyncDir } from "../sys/atomic-write.js";

export const JOURNAL_FILE = "notify.journal";

type Entry = { add: string; from: string } | { done: string };

export class NotifyJournal {
  /** Target id → the ids that notified it, in the order they did. */
  readonly pending = new Map<string, string[]>();
  private handle: FileHandle | null = null;
  private readonly path: string;

  private constructor(
    private readonly stateDir: string,
    /** Noop: keep track in memory, write nothing. */
    private readonly dry: boolean,
  ) {
    this.path = join(stateDir, JOURNAL_FILE);
  }

  static async load(stateDir: string, options: { dry?: boolean } = {}): Promise<NotifyJournal> {
    const journal = new NotifyJournal(stateDir, options.dry ?? false);
    let text = "";
    try {
      text = await fsp.readFile(journal.path, "utf8");
    } catch {
      return journal;
    }
    for (const line of text.split("\n")) {
      if (!line) continue;
      let entry: Entry;
      try {
        entry = JSON.parse(line) as Entry;
      } catch {
        continue; // a torn append: its change never started
      }
      if ("add" in entry && typeof entry.add === "string") journal.remember(entry.add, String(entry.from));
      else if ("done" in entry && typeof entry.done === "string") journal.pending.delete(entry.done);
    }
    return journal;
  }

  private remember(target: string, from: string): void {
    const sources = this.pending.get(target);
    if (!sources) this.pending.set(target, [from]);
    else if (!sources.includes(from)) sources.push(from);
  }

  /** Durably record that each of `targets` is owed a refresh from `from`. Returns after the fsync. */
  async add(targets: readonly string[], from: string): Promise<void> {
    if (targets.length === 0) return;
    for (const t of targets) this.remember(t, from);
    await this.append(targets.map((t) => ({ add: t, from })));
  }

  /** Durably record that `target`'s refresh was delivered. */
  async done(target: string): Promise<void> {
    if (!this.pending.delete(target)) return;
    await this.append([{ done: target }]);
  }

  private async append(entries: Entry[]): Promise<void> {
    if (this.dry) return;
    if (!this.handle) {
      const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;
      this.handle = await fsp.open(this.path, flags, 0o600);
      await fsyncDir(this.stateDir); // the file's own name must survive a crash too
    }
    await this.handle.write(entries.map((e) => `${JSON.stringify(e)}\n`).join(""));
    await this.handle.sync();
  }

  /**
   * End of an apply run: forget targets no longer in the catalog, then leave on disk exactly what
   * is pending (nothing at all when nothing is).
   */
  async compact(knownIds: ReadonlySet<string>): Promise<void> {
    if (this.dry) return;
    await this.handle?.close();
    this.handle = null;
    for (const target of [...this.pending.keys()]) if (!knownIds.has(target)) this.pending.delete(target);
    if (this.pending.size === 0) {
      try {
        await fsp.unlink(this.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        return;
      }
      await fsyncDir(this.stateDir);
      return;
    }
    const lines: string[] = [];
    for (const [target, sources] of this.pending)
      for (const from of sources) lines.push(JSON.stringify({ add: target, from }));
    const temp = `${this.path}.tmp`;
    const h = await fsp.open(
      temp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      await h.writeFile(`${lines.join("\n")}\n`);
      await h.sync();
    } finally {
      await h.close();
    }
    await fsp.rename(temp, this.path);
    await fsyncDir(this.stateDir);
  }

  /** Release the file handle without compacting (a run that stops early). */
  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = null;
  }
}

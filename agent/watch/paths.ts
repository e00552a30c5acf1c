/**
 * Watches paths for watch mode with inotify (fs.watch), on their parent directories, never on the
 * paths themselves: an editor that writes a new file and renames it over the old one, or a delete
 * followed by a create, replaces the inode a watch on the file would hold, while the parent sees
 * every one of those as an event on the name. One watch per directory, however many paths it holds.
 *
 * A directory that does not exist (yet, or any more) is replaced by its nearest existing ancestor,
 * watched for the names on the way down; every event, and every `rearm()`, checks the watched
 * directories again (still there, same inode), so a directory deleted and created again is watched
 * again. An event names the resources at that path and under it (a removed directory takes its
 * files with it).
 */
import { type FSWatcher, statSync, watch } from "node:fs";
import { dirname, join } from "node:path";

export class PathWatcher {
  /** Absolute path → resource ids. */
  private readonly targets: Map<string, string[]>;
  /** Directories whose entries are watched: the parents of the targets. */
  private readonly parents: Set<string>;
  /** Directory actually watched → its watcher and inode. */
  private readonly armed = new Map<string, { w: FSWatcher; ino: number }>();
  private closed = false;

  constructor(
    paths: Record<string, string[]>,
    private readonly onChange: (ids: string[], path: string) => void,
    private readonly log: (line: string) => void,
  ) {
    this.targets = new Map(Object.entries(paths));
    this.parents = new Set([...this.targets.keys()].map((p) => dirname(p)));
    this.rearm();
  }

  /** How many directories are watched (inotify watches held). */
  get watches(): number {
    return this.armed.size;
  }

  /** Watch what should be watched now: directories that appeared, replacements of those that went. */
  rearm(): void {
    if (this.closed) return;
    const want = new Map<string, number>();
    for (const dir of this.parents) {
      const found = existingAncestor(dir);
      if (found) want.set(found.dir, found.ino);
    }
    for (const [dir, a] of this.armed) {
      if (want.get(dir) === a.ino) continue;
      a.w.close();
      this.armed.delete(dir);
    }
    for (const [dir, ino] of want) {
      if (this.armed.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: true }, (_event, name) => this.event(dir, name));
        w.on("error", () => this.rearm());
        this.armed.set(dir, { w, ino });
      } catch (err) {
        this.log(`watch: cannot watch ${dir}: ${(err as Error).message}`);
      }
    }
  }

  close(): void {
    this.closed = true;
    for (const a of this.armed.values()) a.w.close();
    this.armed.clear();
  }

  private event(dir: string, name: string | Buffer | null): void {
    const path = name === null ? dir : join(dir, String(name));
    const ids = new Set<string>();
    for (const [p, list] of this.targets)
      if (p === path || p.startsWith(`${path}/`)) for (const id of list) ids.add(id);
    // The directory itself may have gone, or a missing one appeared under an ancestor.
    this.rearm();
    if (ids.size > 0) this.onChange([...ids], path);
  }
}

/** `dir` or its nearest ancestor that exists as a directory, with its inode. */
function existingAncestor(dir: string): { dir: string; ino: number } | null {
  for (let d = dir; ; d = dirname(d)) {
    try {
      const st = statSync(d);
      if (st.isDirectory()) return { dir: d, ino: st.ino };
    } catch {
      // missing: look one level up
    }
    if (d === "/") return null;
  }
}

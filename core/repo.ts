/**
 * A recipe repository as the compiler sees it: a read-only tree of files, addressed by
 * repository-relative POSIX paths. The agent backs it with the file system (agent/repo-fs.ts), the
 * server with git objects (server/git/). Synchronous on purpose: a repository is small and read
 * whole; the compiler stays simple and fast.
 */
export interface RepoEntry {
  type: "file" | "dir" | "symlink";
}

export interface RepoSource {
  /** A short label for messages, e.g. the folder or `commit abc1234`. */
  label: string;
  /** The entry at `path` (no symlinks followed), or undefined. */
  stat(path: string): RepoEntry | undefined;
  /** Bytes of a regular file; throws when it is not one. */
  read(path: string): Buffer;
  /** Names in a directory, sorted; empty when it is not one. */
  list(path: string): string[];
  /**
   * An id of the file's exact content (git's blob id), when the source knows one: parse results
   * are then shared between snapshots holding the same file (the server's branches).
   */
  contentId?(path: string): string | undefined;
}

/**
 * How the daemon starts its children (runs and spool flushes): their command lines, without the
 * daemon's own Node.js flags and glibc settings, and what a signalled run is asked to do.
 */
import { existsSync } from "node:fs";

/** What a signalled run is asked to do: converge ("run now"), plan (noop), or converge if the catalog changed. */
export type RunKind = "run" | "noop" | "commit";
const RUN_FLAGS: Record<RunKind, string[]> = { run: [], noop: ["--noop"], commit: ["--if-changed"] };
const RUN_RANK: Record<RunKind, number> = { noop: 1, commit: 2, run: 3 };

/** Two runs asked for while one is going are one run: the one that does more. */
export function mergeRuns(a: RunKind | null, b: RunKind): RunKind {
  return a && RUN_RANK[a] >= RUN_RANK[b] ? a : b;
}

/**
 * The command for one run: a watch run of `ids` (`"stdin"`: of the ids the daemon writes to its
 * standard input, one a line, when a burst of events is over), a run the server signalled (`push`,
 * of `kind`), else a scheduled one; under systemd, in a transient scope of its own.
 */
export function runCommand(
  configFile: string,
  env: NodeJS.ProcessEnv = process.env,
  o: { ids?: string[] | "stdin"; kind?: RunKind; push?: boolean } = {},
): string[] {
  const ids = o.ids === "stdin" ? ["-"] : o.ids;
  const trigger = ids
    ? ["--trigger", "watch", ...ids.flatMap((id) => ["--resource", id])]
    : ["--trigger", o.push ? "push" : "schedule", ...RUN_FLAGS[o.kind ?? "run"]];
  const self = [...selfCommand(), "agent", "run", "--log-line", "--config", configFile, ...trigger];
  const systemdRun = ["/usr/bin/systemd-run", "/bin/systemd-run"].find((p) => existsSync(p));
  if (env.INVOCATION_ID && systemdRun && env.TEND_RUN_SCOPE !== "0") {
    const unit = `tend-run-${Date.now()}`;
    return [
      systemdRun,
      "--scope",
      "--quiet",
      "--collect",
      `--unit=${unit}`,
      "--description=tend agent run",
      ...self,
    ];
  }
  return self;
}

/**
 * Node.js flags that tend-agent.service gives the daemon process alone (install.sh, ExecStart):
 * they save memory in a process that only waits (docs/agent.md, "Idle memory") and would slow a
 * run, so selfCommand() leaves them out of the command lines of runs and flushes.
 * `--jitless`: no JIT compilers, so none of their code or code space is paged in (about 1.5 MiB).
 * `--no-icu-timezone-data`: `Date` reads the local time zone from the C library, not ICU.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ["--jitless", "--no-icu-timezone-data"];

/**
 * glibc settings tend-agent.service gives the daemon alone (install.sh): a fixed trim threshold
 * returns the heap freed after start-up, and allocations from 16 KiB up are mapped and unmapped on
 * their own instead of leaving holes in the heap (2 MiB less in the daemon). A run makes many such
 * allocations, each then a system call, so childEnv() takes both out of its environment.
 */
export const DAEMON_ENV: readonly string[] = ["MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"];

/** The environment of a run or a flush: this process's, without the daemon's own settings. */
export function childEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const key of DAEMON_ENV) delete out[key];
  return out;
}

/** This program as a command line: node, its flags (not the daemon's own), the bundle (or the CLI entry). */
export function selfCommand(execArgv: readonly string[] = process.execArgv): string[] {
  const flags = execArgv.filter((f) => !DAEMON_NODE_FLAGS.includes(f));
  return [process.execPath, ...flags, process.argv[1] ?? "tend"];
}

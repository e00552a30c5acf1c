/** Runs `tend` as a real process from the TypeScript sources (tsx), as a person would. */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * node's arguments to run `tend ARGS` from the sources; with `peakRss`, also the preload that writes
 * the process's peak resident memory (KiB) to the file named by TEND_TEST_PEAK_FILE at exit.
 */
export function tendArgv(args: string[], peakRss = false): string[] {
  const preload = peakRss ? ["--import", `${repoRoot}test/helpers/peak-rss.mjs`] : [];
  return ["--import", "tsx", ...preload, `${repoRoot}cli/main.ts`, ...args];
}

export function tend(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
): CliResult {
  const r = spawnSync(process.execPath, tendArgv(args), {
    cwd: opts.cwd ?? repoRoot,
    env: { ...process.env, ...opts.env },
    input: opts.input,
    encoding: "utf8",
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

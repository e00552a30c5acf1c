/** Shared by the benchmarks: building the CLI once, timing whole processes, printing figures. */
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("..", import.meta.url));

/** Builds dist/ into a temporary folder (the same build `npm ci` makes) and returns its entry. */
export function buildCli(): string {
  const out = mkdtempSync(join(tmpdir(), "tend-bench-dist-"));
  const r = spawnSync(process.execPath, [join(repoRoot, "scripts", "build.mjs"), out], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`build failed: ${r.stderr}`);
  return join(out, "tend.js");
}

export interface ProcessRun {
  code: number;
  wallMs: number;
  maxRssMiB: number;
  /** user + system CPU of the process, ms (less sensitive than wall time to a busy machine). */
  cpuMs: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `tend ARGS` from the built CLI as a whole process; the wrapper only reads the process's own
 * peak RSS at exit (what /usr/bin/time reports), so the figures include start-up.
 */
export function runTend(entry: string, args: string[], env: NodeJS.ProcessEnv = {}): ProcessRun {
  const wrapper = `const m = await import(${JSON.stringify(entry)}); const code = await m.run(${JSON.stringify(args)}); const u = process.resourceUsage(); process.stderr.write("\\n@@rss " + u.maxRSS + " " + (u.userCPUTime + u.systemCPUTime) + "\\n"); process.exitCode = code;`;
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", wrapper], {
    encoding: "utf8",
    maxBuffer: 1 << 30,
    env: { ...process.env, ...env },
  });
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  const rss = /@@rss (\d+) (\d+)/.exec(r.stderr);
  return {
    code: r.status ?? -1,
    wallMs,
    maxRssMiB: rss ? Number(rss[1]) / 1024 : Number.NaN,
    cpuMs: rss ? Number(rss[2]) / 1000 : Number.NaN,
    stdout: r.stdout,
    stderr: r.stderr.replace(/\n@@rss \d+ \d+\n$/, ""),
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function fmt(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

/**
 * Kernel parameters a benchmark may declare inside a test box: settings (writable by design) with
 * a one-line value, read from /proc/sys, so a sysctl resource wanting that value is in sync. Shared
 * by bench/kinds-check-box.ts and bench/noop-mixed-box.ts.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";

export function sysctlParams(limit: number): [string, string][] {
  const out: [string, string][] = [];
  for (const dir of ["kernel", "vm", "fs"])
    for (const leaf of readdirSync(`/proc/sys/${dir}`)) {
      if (out.length >= limit) return out;
      try {
        // Settings (writable by design), not counters that move between two reads.
        if ((statSync(`/proc/sys/${dir}/${leaf}`).mode & 0o200) === 0 || leaf.includes("last_pid")) continue;
        const v = readFileSync(`/proc/sys/${dir}/${leaf}`, "utf8").trim();
        if (v && !v.includes("\n") && v.length < 200) out.push([`${dir}.${leaf}`, v]);
      } catch {
        // a directory, or not readable: not a parameter to use
      }
    }
  return out;
}

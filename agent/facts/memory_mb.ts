/**
 * `memory_mb`: total usable RAM in MiB, rounded down: `MemTotal` of /proc/meminfo (what `free -m`
 * shows and Ansible's `ansible_memtotal_mb` reports); node:os when /proc is not there.
 */
import type { Host } from "./host.js";

/** MemTotal in MiB from /proc/meminfo text; undefined when the line is missing. */
export function parseMemTotalMb(meminfo: string): number | undefined {
  const m = /^MemTotal:\s+(\d+)\s*kB\s*$/m.exec(meminfo);
  return m ? Math.floor(Number(m[1]) / 1024) : undefined;
}

export function readMemoryMb(host: Host): number {
  const meminfo = host.readFile("/proc/meminfo");
  const mb = meminfo === undefined ? undefined : parseMemTotalMb(meminfo);
  return mb ?? Math.floor(host.totalMemory() / 2 ** 20);
}

/**
 * `cpus`: the number of online logical CPUs, from /sys/devices/system/cpu/online (a range list such
 * as `0-3,6`), like `getconf _NPROCESSORS_ONLN`; node:os when /sys is not there.
 */
import type { Host } from "./host.js";

/** Counts the CPUs in a kernel cpu list (`0-3,6,8-9` → 7); undefined when the text is not one. */
export function countCpuList(text: string): number | undefined {
  const list = text.trim();
  if (list === "") return undefined;
  let count = 0;
  for (const part of list.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return undefined;
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (last < first) return undefined;
    count += last - first + 1;
  }
  return count;
}

export function readCpus(host: Host): number {
  const list = host.readFile("/sys/devices/system/cpu/online");
  const count = list === undefined ? undefined : countCpuList(list);
  return count ?? host.cpuCount();
}

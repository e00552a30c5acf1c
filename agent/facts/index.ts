/**
 * Gathers every fact. Asynchronous only because `fqdn` may ask DNS (bounded by a short deadline);
 * every other fact is a synchronous read of node:os or a small file under /proc, /sys or /etc.
 */
import type { Facts } from "../../core/types.js";
import { readArch } from "./arch.js";
import { readCpus } from "./cpus.js";
import { readFqdn } from "./fqdn.js";
import { type Host, localHost } from "./host.js";
import { readHostname } from "./hostname.js";
import { readIpv4 } from "./ipv4.js";
import { readKernel } from "./kernel.js";
import { readMemoryMb } from "./memory_mb.js";
import { readOs } from "./os.js";

export type { Host } from "./host.js";
export { localHost } from "./host.js";

export interface GatherOptions {
  /** Where facts come from; this machine (root "/") by default. */
  host?: Host;
  /** The deadline for the fqdn's DNS queries, in ms; 0 skips DNS. */
  fqdnTimeoutMs?: number;
}

export async function gatherFacts(options: GatherOptions = {}): Promise<Facts> {
  const host = options.host ?? localHost();
  // DNS (if any) runs while the synchronous facts are read.
  const fqdn = readFqdn(host, { timeoutMs: options.fqdnTimeoutMs });
  fqdn.catch(() => {}); // awaited below; this keeps a throw from a synchronous fact from orphaning it
  const hostname = readHostname(host);
  const os = readOs(host);
  const arch = readArch(host);
  const kernel = readKernel(host);
  const cpus = readCpus(host);
  const memory_mb = readMemoryMb(host);
  const ipv4 = readIpv4(host);
  return { hostname, fqdn: await fqdn, os, arch, kernel, cpus, memory_mb, ipv4 };
}

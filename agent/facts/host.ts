/**
 * The one place facts touch the machine: files under a root, node:os, and DNS. Every fact is a pure
 * parser plus a reader over a `Host`, so tests can point a real `localHost({ root })` at a temp dir
 * and override single methods (`{ ...localHost({ root }), hostname: () => "web-1" }`).
 */
import { Resolver } from "node:dns/promises";
import { readFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";

export type NetworkInterfaces = NodeJS.Dict<os.NetworkInterfaceInfo[]>;

export interface Host {
  /** The text of `path` (absolute, as on the box) under the host's root; undefined if it does not exist. */
  readFile(path: string): string | undefined;
  /** The kernel's host name (`uname -n`), as set: short or fully qualified. */
  hostname(): string;
  /** The machine hardware name (`uname -m`): `x86_64`, `aarch64`... */
  machine(): string;
  /** The kernel release (`uname -r`). */
  release(): string;
  /** Logical CPUs as the OS lists them; the fallback when /sys has no cpu list. */
  cpuCount(): number;
  /** Total memory in bytes; the fallback when /proc/meminfo is unreadable. */
  totalMemory(): number;
  networkInterfaces(): NetworkInterfaces;
  /** IPv4 addresses of `name` from DNS only (no /etc/hosts, no search list); rejects on failure or abort. */
  resolve4(name: string, signal: AbortSignal): Promise<string[]>;
}

export interface LocalHostOptions {
  /** Where files are read from; "/" unless a test or a chroot says otherwise. */
  root?: string;
  /** Name servers (`IP` or `IP:PORT`) for the fqdn's DNS queries; the system's (resolv.conf) by default. */
  dnsServers?: string[];
}

export function localHost(options: LocalHostOptions = {}): Host {
  const root = options.root ?? "/";
  return {
    readFile(path) {
      try {
        return readFileSync(join(root, path), "utf8");
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") return undefined;
        throw err;
      }
    },
    hostname: () => os.hostname(),
    machine: () => os.machine(),
    release: () => os.release(),
    // os.cpus() is empty in some sandboxes; availableParallelism() is at least 1.
    cpuCount: () => os.cpus().length || os.availableParallelism(),
    totalMemory: () => os.totalmem(),
    networkInterfaces: () => os.networkInterfaces(),
    resolve4: (name, signal) => resolve4(name, signal, options.dnsServers),
  };
}

/**
 * c-ares rather than getaddrinfo (dns.lookup): its queries can be cancelled, so an unreachable name
 * server cannot hold the process open after the caller has given up.
 */
async function resolve4(name: string, signal: AbortSignal, servers?: string[]): Promise<string[]> {
  signal.throwIfAborted();
  const resolver = new Resolver({ tries: 1 });
  if (servers) resolver.setServers(servers);
  const cancel = () => resolver.cancel();
  signal.addEventListener("abort", cancel, { once: true });
  try {
    return await resolver.resolve4(name);
  } finally {
    signal.removeEventListener("abort", cancel);
  }
}

/**
 * `ipv4`: the box's IPv4 addresses, loopback excluded, in interface order, each once. The list
 * templates want for `listen` lines and firewall rules.
 */
import type { Host, NetworkInterfaces } from "./host.js";

export function ipv4Addresses(interfaces: NetworkInterfaces): string[] {
  const found = new Set<string>();
  for (const addresses of Object.values(interfaces)) {
    for (const a of addresses ?? []) {
      if (a.family !== "IPv4" || a.internal || a.address.startsWith("127.")) continue;
      found.add(a.address);
    }
  }
  return [...found];
}

export function readIpv4(host: Host): string[] {
  return ipv4Addresses(host.networkInterfaces());
}

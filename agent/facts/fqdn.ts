/**
 * `fqdn`: the fully qualified name, found without spawning `hostname -f`, in this order:
 * 1. the kernel's host name, when it already has a dot;
 * 2. /etc/hosts: on the first line naming the host, the first name that is `HOST.DOMAIN` (the
 *    Debian installer writes `127.0.1.1 web-1.example.com web-1`);
 * 3. DNS: `HOST.DOMAIN` for each domain of /etc/resolv.conf's search list, queried at once and
 *    given up after a short deadline (300 ms by default); the first in search order that
 *    resolves wins, as glibc's search would pick it;
 * 4. else the host name itself, as `hostname -f` prints on a box without a domain.
 * Unlike glibc we never answer `localhost` for a box whose hosts line starts with it.
 */
import type { Host } from "./host.js";

export const defaultFqdnTimeoutMs = 300;

export interface FqdnOptions {
  /** How long DNS may take, in ms, in total; 0 skips DNS. */
  timeoutMs?: number;
}

/** The fully qualified name /etc/hosts gives `name`, if any line names it together with one. */
export function fqdnFromHosts(hostsText: string, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const raw of hostsText.split("\n")) {
    const [, ...names] = (raw.split("#", 1)[0] ?? "").trim().split(/\s+/);
    if (!names.some((n) => n.toLowerCase() === wanted)) continue;
    return names.find((n) => n.toLowerCase().startsWith(`${wanted}.`) && !n.endsWith("."));
  }
  return undefined;
}

/** The search list of resolv.conf text: the last `search` or `domain` line wins, as in glibc. */
export function searchDomains(resolvConf: string): string[] {
  let domains: string[] = [];
  for (const raw of resolvConf.split("\n")) {
    const [keyword, ...args] = raw.trim().split(/\s+/);
    if (keyword === "search" || keyword === "domain") {
      domains = args.map((d) => d.replace(/\.$/, "")).filter((d) => d !== "" && !/^[#;]/.test(d));
    }
  }
  return domains;
}

export async function readFqdn(host: Host, options: FqdnOptions = {}): Promise<string> {
  const name = host.hostname();
  if (name.includes(".")) return name;
  const fromHosts = fqdnFromHosts(host.readFile("/etc/hosts") ?? "", name);
  if (fromHosts) return fromHosts;
  const timeoutMs = options.timeoutMs ?? defaultFqdnTimeoutMs;
  const domains = searchDomains(host.readFile("/etc/resolv.conf") ?? "");
  if (timeoutMs <= 0 || domains.length === 0) return name;
  const candidates = domains.map((d) => `${name}.${d}`);
  return (await firstResolving(host, candidates, timeoutMs)) ?? name;
}

async function firstResolving(
  host: Host,
  candidates: string[],
  timeoutMs: number,
): Promise<string | undefined> {
  const controller = new AbortController();
  const { signal } = controller;
  const timer = setTimeout(
    () => controller.abort(new Error(`DNS gave no answer in ${timeoutMs} ms`)),
    timeoutMs,
  );
  // The race guarantees the deadline even for a Host whose resolve4 ignores the signal.
  const aborted = new Promise<never>((_, reject) => {
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
  aborted.catch(() => {});
  try {
    const results = await Promise.allSettled(
      candidates.map((c) => Promise.race([host.resolve4(c, signal), aborted])),
    );
    const i = results.findIndex((r) => r.status === "fulfilled" && r.value.length > 0);
    return i === -1 ? undefined : candidates[i];
  } finally {
    clearTimeout(timer);
  }
}

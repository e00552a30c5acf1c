/**
 * dpkg and apt: batched reads (one dpkg-query, one apt-cache policy), the dpkg lock (who holds it,
 * waiting a bounded time), the interrupted-dpkg audit, and apt-get that never prompts.
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { TendError } from "../../core/errors.js";
import { cEnv, describeExit, lastLines, run } from "./proc.js";

export interface InstalledState {
  /** dpkg's status word: installed, config-files, half-configured, unpacked, not-installed... */
  status: string;
  version: string | null;
}

const STATUS: Record<string, string> = {
  n: "not-installed",
  c: "config-files",
  H: "half-installed",
  U: "unpacked",
  F: "half-configured",
  W: "triggers-awaited",
  t: "triggers-pending",
  i: "installed",
};

/** Parse `dpkg-query -W -f='${Package}\t${db:Status-Abbrev}\t${Version}\n'`. */
export function parseDpkgQuery(text: string): Map<string, InstalledState> {
  const out = new Map<string, InstalledState>();
  for (const line of text.split("\n")) {
    const [name, abbrev, version] = line.split("\t");
    if (!name || abbrev === undefined) continue;
    const status = STATUS[abbrev[1] ?? "n"] ?? "unknown";
    // Several architectures of one package: an installed one wins.
    if (out.get(name)?.status === "installed") continue;
    out.set(name, { status, version: status === "not-installed" || !version ? null : version });
  }
  return out;
}

/** One dpkg-query for all names; names dpkg has never heard of are absent from the map. */
export async function queryInstalled(
  names: string[],
  signal?: AbortSignal,
): Promise<Map<string, InstalledState>> {
  if (names.length === 0) return new Map();
  const r = await run(
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
    ["dpkg-query", "-W", "-f=${Package}\\t${db:Status-Abbrev}\\t${Version}\\n", "--", ...names],
    {
      env: cEnv(),
      signal,
    },
  );
  // Exit 1 means "some names not found", which is an answer, not an error.
  if (r.code !== 0 && r.code !== 1) {
    throw new TendError("TEND_E_COMMAND_FAILED", `dpkg-query ${describeExit(r)}: ${lastLines(r.stderr, 3)}`);
  }
  return parseDpkgQuery(r.stdout);
}

/** Parse `apt-cache policy NAMES`: the candidate version of each known package (null: none). */
export function parseAptPolicy(text: string): Map<string, string | null> {
  const out = new Map<string, string | null>();
  let current: string | null = null;
  for (const line of text.split("\n")) {
    const head = /^(\S+):$/.exec(line);
    if (head) {
      current = head[1]!.replace(/:[a-z0-9]+$/, "");
      continue;
    }
    const cand = /^\s+Candidate:\s+(\S+)/.exec(line);
    if (cand && current && !out.has(current)) out.set(current, cand[1] === "(none)" ? null : cand[1]!);
  }
  return out;
}

export async function candidates(names: string[], signal?: AbortSignal): Promise<Map<string, string | null>> {
  if (names.length === 0) return new Map();
  const r = await run(["apt-cache", "policy", "--", ...names], { env: cEnv(), signal });
  if (r.code !== 0)
    throw new TendError(
      "TEND_E_COMMAND_FAILED",
      `apt-cache policy ${describeExit(r)}: ${lastLines(r.stderr, 3)}`,
    );
  return parseAptPolicy(r.stdout);
}

export const LOCK_FILES = ["/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock"];

/** dpkg's record of what is installed: rewritten (a new file renamed over it) by every install or removal. */
export const DPKG_STATUS = "/var/lib/dpkg/status";

/** Pids holding a lock (POSIX, OFD or flock) on `path`, from /proc/locks, else from /proc/*\/fd. */
export function lockHolders(path: string, procLocks = "/proc/locks"): number[] {
  let ino: number;
  try {
    ino = statSync(path).ino;
  } catch {
    return [];
  }
  const pids = new Set<number>();
  let ownerless = false;
  for (const line of readFileSync(procLocks, "utf8").split("\n")) {
    // "1: POSIX  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"; blocked waiters start with "->".
    const f = line.trim().split(/\s+/);
    if (f[1] === "->") continue;
    const dev = f[5]?.split(":");
    if (!dev || Number(dev[2]) !== ino) continue;
    const pid = Number(f[4]);
    if (pid > 0) pids.add(pid);
    else ownerless = true;
  }
  if (pids.size === 0 && ownerless) for (const pid of openers(path)) pids.add(pid);
  return [...pids];
}

/** Processes with `path` open (an OFD lock names no pid in /proc/locks). */
function openers(path: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${d}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${d}/fd/${fd}`) === path) {
          out.push(Number(d));
          break;
        }
      } catch {
        // The process or descriptor went away.
      }
    }
  }
  return out;
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
  } catch {
    return "?";
  }
}

/** Wait until no one holds the dpkg locks, at most `timeoutMs`; then fail naming the holder. */
export async function waitForDpkgLock(timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const held = LOCK_FILES.flatMap((f) => lockHolders(f).map((pid) => ({ f, pid })));
    if (held.length === 0) return;
    if (Date.now() >= until || signal?.aborted) {
      const h = held[0]!;
      throw new TendError(
        "TEND_E_DPKG_LOCKED",
        `the dpkg lock ${h.f} is held by pid ${h.pid} (${commandOf(h.pid)}); waited ${Math.round(timeoutMs / 1000)}s. tend never removes lock files: let that process finish, or stop it.`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** `dpkg --audit`: empty when dpkg is consistent, else the packages an interrupted run left half done. */
export async function dpkgAudit(signal?: AbortSignal): Promise<string> {
  const r = await run(["dpkg", "--audit"], { env: cEnv(), signal });
  return r.stdout.trim();
}

/** apt-get that never prompts and keeps locally changed conffiles. */
export async function aptGet(args: string[], lockTimeoutS: number, signal?: AbortSignal): Promise<void> {
  const argv = [
    "apt-get",
    "-y",
    "-q",
    "-o",
    "Dpkg::Options::=--force-confold",
    "-o",
    `DPkg::Lock::Timeout=${Math.max(0, Math.round(lockTimeoutS))}`,
    ...args,
  ];
  const r = await run(argv, {
    env: cEnv({ DEBIAN_FRONTEND: "noninteractive", APT_LISTCHANGES_FRONTEND: "none" }),
    signal,
  });
  if (r.code === 0) return;
  const err = r.stderr;
  const missing =
    /Unable to locate package (\S+)|Package '?(\S+?)'? has no installation candidate|Version '([^']+)' for '([^']+)' was not found/.exec(
      err,
    );
  if (missing) {
    const what = missing[1] ?? missing[2] ?? `${missing[4]} version ${missing[3]}`;
    throw new TendError(
      "TEND_E_PACKAGE_NOT_FOUND",
      `apt knows no package ${what}; check the name, or run apt-get update.`,
    );
  }
  if (/dpkg was interrupted/.test(err)) {
    throw new TendError(
      "TEND_E_DPKG_INTERRUPTED",
      `dpkg was interrupted earlier; run dpkg --configure -a.\n${lastLines(err, 5)}`,
    );
  }
  if (/Could not get lock/.test(err)) {
    throw new TendError("TEND_E_DPKG_LOCKED", `apt-get could not get the dpkg lock: ${lastLines(err, 2)}`);
  }
  throw new TendError(
    "TEND_E_COMMAND_FAILED",
    `apt-get ${args.join(" ")} ${describeExit(r)}:\n${lastLines(r.output, 10)}`,
  );
}

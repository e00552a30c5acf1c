import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { constants } from "node:os";

export interface RunResult {
  stdout: Buffer;
  stderr: Buffer;
  /** Exit code, or 128 + signal number when the process was killed (as a shell reports it). */
  code: number;
}

export interface RunOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Runs argv (never through a shell) and collects its output; never rejects on a non-zero exit. */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error("run: empty argv");
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: opts.env ?? process.env, stdio: "pipe" });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
          }, opts.timeoutMs);
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new Error(`${argv.join(" ")}: no exit within ${opts.timeoutMs} ms`));
        return;
      }
      const signo = signal ? constants.signals[signal] : 0;
      resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err), code: code ?? 128 + signo });
    });
    // A command that does not read its stdin must not break us with EPIPE.
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
  });
}

/** Like run(), but a non-zero exit is an error that carries the command's stderr. */
export async function runOk(argv: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) {
    throw new Error(`${argv.join(" ")} exited ${r.code}: ${r.stderr.toString().trim()}`);
  }
  return r.stdout.toString();
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * A process's start time in clock ticks since boot (field 22 of /proc/PID/stat). Together with
 * the pid it names a process for good: a recycled pid has another start time.
 */
export function startTime(pid: number): string | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  // The command name (field 2) may hold spaces and parentheses; count from the last ")".
  return stat?.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
}

export function isAlive(pid: number, expectedStart?: string): boolean {
  const start = startTime(pid);
  return start !== undefined && (expectedStart === undefined || start === expectedStart);
}

export function cmdline(pid: number): string[] {
  return (readProc(`/proc/${pid}/cmdline`) ?? "").split("\0").filter(Boolean);
}

export function pids(): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

function children(pid: number): number[] {
  const list = readProc(`/proc/${pid}/task/${pid}/children`) ?? "";
  return list.split(" ").filter(Boolean).map(Number);
}

/**
 * The container's PID 1 as the host sees it: the descendant of systemd-nspawn that is pid 1
 * in its own pid namespace, once it has exec'd systemd (before that it is still a copy of
 * nspawn setting up mounts, and entering it would show a half-built root).
 */
export function findContainerInit(nspawnPid: number): number | undefined {
  const queue = children(nspawnPid);
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    const status = readProc(`/proc/${pid}/status`) ?? "";
    const nspid = /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/) ?? [];
    if (nspid.length > 1 && nspid.at(-1) === "1") {
      return readProc(`/proc/${pid}/comm`)?.trim() === "systemd" ? pid : undefined;
    }
    queue.push(...children(pid));
  }
  return undefined;
}

/** Every mount point in this mount namespace, as paths. */
export function mountPoints(): string[] {
  const info = readProc("/proc/self/mountinfo") ?? "";
  return info
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\(\d{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8))));
}

/** Mount points at or below `dir`, deepest first (the order to unmount them in). */
export function mountsUnder(dir: string): string[] {
  return mountPoints()
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

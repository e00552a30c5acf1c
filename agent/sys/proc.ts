/**
 * Running processes: argv arrays only (never a shell string), each child the leader of its own
 * process group so that a timeout or an abort can take down everything it started: SIGTERM to the
 * group, then SIGKILL after a grace period. Output is captured with a bounded tail.
 */
import { spawn } from "node:child_process";
import { TendError } from "../../core/errors.js";

export interface RunOptions {
  cwd?: string;
  /** The full environment of the child (default: this process's environment). */
  env?: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
  /** Milliseconds; 0 or undefined: no limit. */
  timeoutMs?: number;
  /** Milliseconds between SIGTERM and SIGKILL to the group (default 10 s). */
  killGraceMs?: number;
  signal?: AbortSignal;
  /** Bytes kept of each stream and of the combined output: the last ones (default 8 MiB). */
  maxOutput?: number;
  input?: string;
}

export interface RunResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as they arrived, truncated to the last `maxOutput` bytes. */
  output: string;
  truncated: boolean;
  timedOut: boolean;
  aborted: boolean;
  pid: number | undefined;
}

/** Keeps the last `limit` bytes written to it. */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly limit: number) {}
  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
    while (this.size > this.limit && this.chunks.length > 0) {
      const first = this.chunks[0]!;
      const excess = this.size - this.limit;
      this.truncated = true;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
      }
    }
  }
  toString(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // The group is gone already.
  }
}

function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Resolves when no process (zombies included) is left in the group, or after `limitMs`. */
async function groupGone(pgid: number, limitMs: number): Promise<void> {
  const until = Date.now() + limitMs;
  while (groupExists(pgid) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
}

/** Run `argv` and resolve with its outcome; never rejects for a non-zero exit. Rejects when it cannot start. */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (!file) return Promise.reject(new Error("run: empty argv"));
  const limit = opts.maxOutput ?? 8 * 1024 * 1024;
  const grace = opts.killGraceMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      uid: opts.uid,
      gid: opts.gid,
      detached: true,
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    const out = new Tail(limit);
    const err = new Tail(limit);
    const all = new Tail(limit);
    let timedOut = false;
    let aborted = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let settled = false;
    let termTimer: NodeJS.Timeout | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;

    const stop = (why: "timeout" | "abort") => {
      if (exit || child.pid === undefined) return;
      if (why === "timeout") timedOut = true;
      else aborted = true;
      killGroup(child.pid, "SIGTERM");
      killTimer = setTimeout(() => child.pid !== undefined && killGroup(child.pid, "SIGKILL"), grace);
    };
    const onAbort = () => stop("abort");

    const finish = () => {
      if (settled || !exit) return;
      settled = true;
      clearTimeout(termTimer);
      clearTimeout(drainTimer);
      opts.signal?.removeEventListener("abort", onAbort);
      const ended = exit;
      const result = (): RunResult => ({
        code: ended.code,
        signal: ended.signal,
        stdout: out.toString(),
        stderr: err.toString(),
        output: all.toString(),
        truncated: out.truncated || err.truncated || all.truncated,
        timedOut,
        aborted,
        pid: child.pid,
      });
      if ((timedOut || aborted) && child.pid !== undefined) {
        // The leader is gone; anything left in its group gets no more grace, and we return only
        // once the group is empty (reaped), so a caller never sees an orphan.
        clearTimeout(killTimer);
        killGroup(child.pid, "SIGKILL");
        void groupGone(child.pid, 5_000).then(() => resolve(result()));
      } else {
        clearTimeout(killTimer);
        resolve(result());
      }
    };

    child.stdout?.on("data", (b: Buffer) => {
      out.push(b);
      all.push(b);
    });
    child.stderr?.on("data", (b: Buffer) => {
      err.push(b);
      all.push(b);
    });
    child.on("error", (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(termTimer);
      clearTimeout(killTimer);
      opts.signal?.removeEventListener("abort", onAbort);
      reject(e);
    });
    child.on("exit", (code, signal) => {
      exit = { code, signal };
      if (timedOut || aborted) {
        // Members of the group may still hold the pipes open: wait for the SIGKILL, not for them.
        return;
      }
      // A daemonised grandchild may keep our pipes open for ever: stop waiting shortly after exit.
      drainTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish();
      }, 200);
    });
    child.on("close", () => {
      if (!exit) exit = { code: child.exitCode, signal: child.signalCode };
      finish();
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    if (opts.timeoutMs && opts.timeoutMs > 0) termTimer = setTimeout(() => stop("timeout"), opts.timeoutMs);
    if (opts.signal) {
      if (opts.signal.aborted) onAbort();
      else opts.signal.addEventListener("abort", onAbort, { once: true });
    }
  });
}

/** `LC_ALL=C` keeps the output of system tools parseable whatever the box's locale. */
export function cEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, LC_ALL: "C", LANG: "C", ...extra };
}

/** A one-line description of how a process ended, for error messages. */
export function describeExit(r: RunResult): string {
  if (r.timedOut) return "timed out";
  if (r.aborted) return "was aborted";
  if (r.signal) return `was killed by ${r.signal}`;
  return `exited ${r.code}`;
}

/** The last `lines` non-empty lines of some output, for error messages. */
export function lastLines(text: string, lines = 10): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Run a system tool that must succeed (useradd, systemctl...): its stdout, or a coded error with its stderr. */
export async function runTool(argv: readonly string[], opts: RunOptions = {}): Promise<string> {
  let r: RunResult;
  try {
    r = await run(argv, { env: cEnv(), ...opts });
  } catch (err) {
    throw new TendError("TEND_E_COMMAND_FAILED", `cannot run ${argv[0]}: ${(err as Error).message}`);
  }
  if (r.code !== 0) {
    throw new TendError(
      "TEND_E_COMMAND_FAILED",
      `${argv.join(" ")} ${describeExit(r)}: ${lastLines(r.output, 5)}`,
    );
  }
  return r.stdout;
}

import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { boxDirName, killBoxesNow, removeBoxDir, sweepLeakedBoxes } from "./cleanup.js";
import { ensureImage } from "./image.js";
import { boxesDir } from "./paths.js";
import { findContainerInit, isAlive, run, runOk, sleep } from "./proc.js";

export interface Bind {
  /** Path on the host. */
  host: string;
  /** Where it appears inside the box (created if missing). */
  box: string;
  /** Read-only unless `false`: a box should not write into the host by accident. */
  readOnly?: boolean;
}

export interface BoxOptions {
  hostname: string;
  binds?: Bind[];
  /** How long to wait for `systemctl is-system-running` to settle; default 120 s. */
  bootTimeoutMs?: number;
}

export interface ExecOptions {
  /** Sent to the command's stdin. */
  input?: string | Buffer;
  /** Added to the box's minimal environment (PATH, HOME, LANG). */
  env?: Record<string, string>;
  /** Default 10 minutes; the command is killed after it. */
  timeoutMs?: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** What a root login on a fresh machine has; nothing leaks in from the test process. */
const boxEnv = {
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  HOME: "/root",
  LANG: "C.UTF-8",
};

/** Boxes of this process that are not yet removed; an exit handler kills what teardown missed. */
const live = new Set<string>();
process.on("exit", () => killBoxesNow(live));

let swept: Promise<unknown> | undefined;

/**
 * A Debian machine with systemd as PID 1: an overlayfs copy of the cached image, booted with
 * systemd-nspawn, sharing the host's network. Commands run inside through nsenter.
 */
export class Box {
  readonly hostname: string;
  /** Host directory holding the overlay layers, the mounted root and the console log. */
  readonly dir: string;
  /** Milliseconds from starting systemd-nspawn to a settled `is-system-running`. */
  bootMs = 0;
  #init = 0;
  #nspawn = 0;
  #removed: Promise<void> | undefined;

  private constructor(hostname: string, dir: string) {
    this.hostname = hostname;
    this.dir = dir;
  }

  get root(): string {
    return join(this.dir, "root");
  }

  /** Boots a box. On any failure the half-made box is removed before the error is thrown. */
  static async boot(opts: BoxOptions): Promise<Box> {
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(opts.hostname)) {
      throw new Error(`box hostname ${JSON.stringify(opts.hostname)} is not a valid host name`);
    }
    for (const b of opts.binds ?? []) {
      if (b.host.includes(":") || b.box.includes(":"))
        throw new Error(`bind paths may not hold ":": ${b.host}`);
    }
    swept ??= sweepLeakedBoxes();
    await swept;
    const image = await ensureImage();
    const box = new Box(opts.hostname, join(boxesDir, boxDirName()));
    live.add(box.dir);
    try {
      await box.#mount(image.rootfs);
      await box.#start(opts);
      return box;
    } catch (e) {
      const log = box.consoleLog().split("\n").slice(-40).join("\n");
      await box.remove().catch(() => {});
      throw new Error(
        `${(e as Error).message}\n--- console of box ${opts.hostname} (last 40 lines) ---\n${log}`,
      );
    }
  }

  async #mount(lower: string): Promise<void> {
    for (const d of ["upper", "work", "root"]) mkdirSync(join(this.dir, d), { recursive: true });
    const layers = `lowerdir=${lower},upperdir=${this.dir}/upper,workdir=${this.dir}/work`;
    await runOk(["mount", "-t", "overlay", "overlay", "-o", layers, this.root]);
    // systemd sets the host name from /etc/hostname at boot; a real machine has both files.
    writeFileSync(join(this.root, "etc/hostname"), `${this.hostname}\n`);
    // debootstrap writes no /etc/hosts; give the box what Debian's installer would.
    writeFileSync(
      join(this.root, "etc/hosts"),
      `127.0.0.1\tlocalhost\n127.0.1.1\t${this.hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
    );
  }

  async #start(opts: BoxOptions): Promise<void> {
    const started = Date.now();
    const binds = (opts.binds ?? []).map(
      (b) => `--bind${b.readOnly === false ? "" : "-ro"}=${b.host}:${b.box}`,
    );
    const consoleFd = openSync(join(this.dir, "console.log"), "a");
    // detached (setsid): the box must not share our process group, so a ^C or a group kill aimed
    // at the test runner does not tear through it half-way; teardown or the next sweep stops it.
    const child = spawn(
      "systemd-nspawn",
      [
        "--keep-unit",
        "--register=no",
        "--link-journal=no",
        "--console=read-only",
        `--machine=tend-${this.dir.slice(-6)}`,
        `--hostname=${this.hostname}`,
        ...binds,
        "-D",
        this.root,
        "-b",
      ],
      { stdio: ["ignore", consoleFd, consoleFd], detached: true },
    );
    closeSync(consoleFd);
    let exited: string | undefined;
    child.on("exit", (code, signal) => {
      exited = `systemd-nspawn exited (${signal ?? code}) before the box was up`;
    });
    child.unref();
    this.#nspawn = child.pid ?? 0;
    const deadline = started + (opts.bootTimeoutMs ?? 120_000);
    let state = "not started";
    while (Date.now() < deadline) {
      if (exited) throw new Error(`box ${this.hostname}: ${exited}`);
      this.#init ||= findContainerInit(this.#nspawn) ?? 0;
      if (this.#init) {
        const r = await this.exec(["systemctl", "is-system-running"], { timeoutMs: 10_000 }).catch(
          () => undefined,
        );
        state = r?.stdout.trim() || state;
        if (state === "running" || state === "degraded") {
          this.bootMs = Date.now() - started;
          return;
        }
      }
      await sleep(200);
    }
    throw new Error(
      `box ${this.hostname}: not up within ${opts.bootTimeoutMs ?? 120_000} ms (system is ${state})`,
    );
  }

  /** Runs argv, or a string through `sh -c`, inside the box. Never rejects on a non-zero exit. */
  async exec(cmd: string | readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (!this.#init || !isAlive(this.#init)) throw new Error(`box ${this.hostname} is not running`);
    const argv = typeof cmd === "string" ? ["sh", "-c", cmd] : cmd;
    // `env -i` inside the box, not spawn's env option: tap's process tracking adds NODE_OPTIONS
    // and friends to every child's environment, and a node inside the box would trip over them.
    const env = Object.entries({ ...boxEnv, ...opts.env }).map(([k, v]) => `${k}=${v}`);
    const r = await run(["nsenter", "-t", String(this.#init), "-a", "--", "env", "-i", ...env, ...argv], {
      input: opts.input,
      timeoutMs: opts.timeoutMs ?? 600_000,
    });
    return { stdout: r.stdout.toString(), stderr: r.stderr.toString(), code: r.code };
  }

  /** Like exec(), but a non-zero exit throws with the command's output; resolves to stdout. */
  async run(cmd: string | readonly string[], opts: ExecOptions = {}): Promise<string> {
    const r = await this.exec(cmd, opts);
    if (r.code !== 0) {
      const shown = typeof cmd === "string" ? cmd : cmd.join(" ");
      throw new Error(`in box ${this.hostname}: \`${shown}\` exited ${r.code}\n${r.stderr}${r.stdout}`);
    }
    return r.stdout;
  }

  /** Writes a file inside the box (any path, also tmpfs ones such as /run), creating parents. */
  async writeFile(path: string, content: string | Buffer, opts: { mode?: string } = {}): Promise<void> {
    const script = 'mkdir -p "$(dirname "$1")" && cat > "$1" && if [ -n "$2" ]; then chmod "$2" "$1"; fi';
    await this.run(["sh", "-c", script, "sh", path, opts.mode ?? ""], { input: content });
  }

  async readFile(path: string): Promise<string> {
    return this.run(["cat", "--", path]);
  }

  /** What systemd-nspawn and the box's console printed so far. */
  consoleLog(): string {
    try {
      return readFileSync(join(this.dir, "console.log"), "utf8").replace(/\x1b\[[0-9;]*m/g, "");
    } catch {
      return "";
    }
  }

  /**
   * Powers the box off (`systemctl poweroff`, then SIGKILL if it has not stopped in 30 s),
   * unmounts and deletes it. Idempotent; safe on a box that never finished booting.
   */
  remove(): Promise<void> {
    this.#removed ??= (async () => {
      if (this.#init && isAlive(this.#init)) {
        await this.exec(["systemctl", "poweroff"], { timeoutMs: 10_000 }).catch(() => {});
        for (let i = 0; i < 300 && isAlive(this.#nspawn); i++) await sleep(100);
      }
      await removeBoxDir(this.dir);
      live.delete(this.dir);
    })();
    return this.#removed;
  }
}

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { rename } from "node:fs/promises";
import { join } from "node:path";
import { removeTree } from "./cleanup.js";
import { withLock } from "./lock.js";
import { imagesDir } from "./paths.js";
import { cmdline, pids, run, sleep } from "./proc.js";

/**
 * What a box's root file system is built from. Any change here (bump `revision` when the
 * post-build steps below change) gives a new cache key, so the next test run builds a fresh image.
 */
export const imageRecipe = {
  revision: 2,
  suite: "trixie",
  variant: "minbase",
  // What a cloud base image has: an init, a bus, TLS roots and a way to fetch install.sh.
  include: ["systemd", "systemd-sysv", "dbus", "ca-certificates", "curl"],
  mirror: process.env.TEND_TEST_MIRROR ?? "http://deb.debian.org/debian",
};

export interface Image {
  /** The image's root file system: the read-only lower layer of every box. */
  rootfs: string;
  key: string;
  /** How long debootstrap and the post-build steps took, when this image was built. */
  buildMs: number;
}

export function imageKey(recipe = imageRecipe): string {
  const hash = createHash("sha256").update(JSON.stringify(recipe)).digest("hex");
  return `${recipe.suite}-${hash.slice(0, 12)}`;
}

const buildTimeoutMs = 15 * 60_000;

/**
 * The cached image for the current recipe, built first if missing. Built under a lock, into a
 * `.partial` directory renamed into place at the end, so a parallel test file waits for the one
 * build and a killed build is never mistaken for a finished image.
 */
export async function ensureImage(): Promise<Image> {
  const key = imageKey();
  const dir = join(imagesDir, key);
  const done = () => JSON.parse(readFileSync(join(dir, "image.json"), "utf8")) as Image;
  if (existsSync(join(dir, "image.json"))) return done();
  return withLock(join(imagesDir, `${key}.lock`), buildTimeoutMs, async () => {
    if (existsSync(join(dir, "image.json"))) return done();
    // A build killed half-way leaves its partial tree (perhaps with debootstrap's mounts in it),
    // and perhaps its debootstrap still running: we hold the lock, so whatever builds there is orphaned.
    const partial = `${dir}.partial`;
    for (const pid of pids().filter((p) => cmdline(p).some((arg) => arg.startsWith(partial)))) {
      process.kill(pid, "SIGKILL");
    }
    await sleep(200);
    await removeTree(partial);
    mkdirSync(partial, { recursive: true });
    const started = Date.now();
    await debootstrap(join(partial, "rootfs"), join(imagesDir, `${key}.log`));
    prepareRootfs(join(partial, "rootfs"));
    const image: Image = { rootfs: join(dir, "rootfs"), key, buildMs: Date.now() - started };
    writeFileSync(
      join(partial, "image.json"),
      `${JSON.stringify({ ...image, recipe: imageRecipe }, null, 2)}\n`,
    );
    await rename(partial, dir);
    return image;
  });
}

async function debootstrap(target: string, logPath: string): Promise<void> {
  const r = await run(
    [
      "debootstrap",
      `--variant=${imageRecipe.variant}`,
      `--include=${imageRecipe.include.join(",")}`,
      imageRecipe.suite,
      target,
      imageRecipe.mirror,
    ],
    { timeoutMs: buildTimeoutMs },
  );
  writeFileSync(logPath, Buffer.concat([r.stdout, r.stderr]));
  if (r.code !== 0) {
    const tail = r.stderr.toString().trim().split("\n").slice(-15).join("\n");
    throw new Error(`debootstrap of ${imageRecipe.suite} failed (exit ${r.code}, log ${logPath}):\n${tail}`);
  }
}

/** Makes the tree a base image rather than a copy of this host. */
function prepareRootfs(rootfs: string): void {
  // Empty: each box gets its own machine id at boot (the agent may key on it).
  writeFileSync(join(rootfs, "etc/machine-id"), "");
  // systemd falls back to D-Bus's copy of the id; make it the link to /etc/machine-id it is on Debian.
  rmSync(join(rootfs, "var/lib/dbus/machine-id"), { force: true });
  symlinkSync("/etc/machine-id", join(rootfs, "var/lib/dbus/machine-id"));
  // debootstrap copied the host's name; each box writes its own before it boots.
  rmSync(join(rootfs, "etc/hostname"), { force: true });
  rmSync(join(rootfs, "var/cache/apt/archives"), { recursive: true, force: true });
  mkdirSync(join(rootfs, "var/cache/apt/archives/partial"), { recursive: true });
}

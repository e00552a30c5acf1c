import { accessSync, constants, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";

function onPath(command: string): boolean {
  const dirs = `${process.env.PATH ?? ""}${delimiter}/usr/sbin${delimiter}/sbin`.split(delimiter);
  return dirs.some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Why boxes cannot run on this machine, or false when they can. Box tests pass this as tap's
 * `skip` option, so a machine without them reports the reason instead of failing.
 */
export function whyNoBoxes(): string | false {
  if (process.env.TEND_TEST_BOXES === "0") return "box tests turned off (TEND_TEST_BOXES=0)";
  if (process.platform !== "linux") return `boxes need Linux, not ${process.platform}`;
  if (process.getuid?.() !== 0) return "boxes need root (mount, systemd-nspawn, nsenter)";
  for (const [command, pkg] of [
    ["systemd-nspawn", "systemd-container"],
    ["debootstrap", "debootstrap"],
    ["nsenter", "util-linux"],
    ["flock", "util-linux"],
  ] as const) {
    if (!onPath(command)) return `boxes need ${command} (apt-get install ${pkg})`;
  }
  if (!/\toverlay$/m.test(readFileSync("/proc/filesystems", "utf8")))
    return "boxes need overlayfs in the kernel";
  return false;
}

/**
 * Kernel parameters through /proc/sys, without a process: a read is one file read, a write one
 * write(2). The kernel's refusals come back as coded errors that say which parameter and why.
 */
import { accessSync, closeSync, constants, openSync, readFileSync, writeSync } from "node:fs";
import { TendError } from "../../core/errors.js";

export const PROC_SYS = "/proc/sys";

/**
 * `net.ipv4.conf.eth0/100.forwarding` → /proc/sys/net/ipv4/conf/eth0.100/forwarding: dots separate,
 * and a slash stands for a dot inside one component (an interface name), as sysctl.d(5) says.
 */
export function procPath(name: string): string {
  return `${PROC_SYS}/${name
    .split(".")
    .map((c) => c.replaceAll("/", "."))
    .join("/")}`;
}

/** The live value (whitespace as the kernel prints it, the final newline dropped), or null when there is no such parameter. */
export function readParam(name: string): string | null {
  try {
    return readFileSync(procPath(name), "utf8").replace(/\n$/, "");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/** Why the parameter cannot be written here (EROFS, EACCES, EPERM), or null when it can. */
export function whyNotWritable(name: string): string | null {
  try {
    accessSync(procPath(name), constants.W_OK);
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? "EACCES";
  }
}

const REASONS: Record<string, string> = {
  EROFS: "/proc/sys is mounted read-only here, as in a container: set it on the host",
  EACCES: "the kernel does not let this process write it (a container, or a parameter of another namespace)",
  EPERM: "the kernel does not let this process write it (a container, or a parameter of another namespace)",
};

/** The error for a parameter that cannot be written, naming it and the reason. */
export function readOnlyError(id: string, name: string, code: string): TendError {
  const why = REASONS[code] ?? "the kernel refused the write";
  return new TendError(
    "TEND_E_SYSCTL_READONLY",
    `${id}: ${name} is read-only on this box (${code}: ${why}). Remove the resource from this node's recipes, or set the value where the parameter is writable.`,
  );
}

/** Writes `value` to the live parameter. */
export function writeParam(id: string, name: string, value: string): void {
  let fd: number;
  try {
    fd = openSync(procPath(name), constants.O_WRONLY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    if (code === "ENOENT") throw unknownParam(id, name);
    if (code in REASONS) throw readOnlyError(id, name, code);
    throw err;
  }
  try {
    writeSync(fd, `${value}\n`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    if (code in REASONS) throw readOnlyError(id, name, code);
    throw new TendError(
      "TEND_E_SYSCTL_VALUE",
      `${id}: the kernel refused ${JSON.stringify(value)} for ${name} (${code || String(err)}); check the value's range and format.`,
    );
  } finally {
    closeSync(fd);
  }
}

export function unknownParam(id: string, name: string): TendError {
  return new TendError(
    "TEND_E_SYSCTL_UNKNOWN",
    `${id}: this kernel has no parameter ${name} (no ${procPath(name)}); check the name, or load the module that provides it first.`,
  );
}

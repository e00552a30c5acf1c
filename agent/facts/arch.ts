/**
 * `arch`: the machine hardware name as `uname -m` prints it (`x86_64`, `aarch64`), the spelling
 * Ansible, Salt and most download URLs use; not Node's `x64` nor Debian's `amd64`.
 */
import type { Host } from "./host.js";

export function readArch(host: Host): string {
  return host.machine();
}

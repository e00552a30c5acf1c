/** `kernel`: the running kernel's release as `uname -r` prints it (`6.1.0-18-amd64`). */
import type { Host } from "./host.js";

export function readKernel(host: Host): string {
  return host.release();
}

import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Box } from "./box.js";
import { boxProcesses } from "./cleanup.js";
import { runOk } from "./proc.js";

export interface BoxUsage {
  /** Processes of the box, systemd-nspawn included. */
  processes: number;
  /** Their proportional set size: memory the box costs, shared pages split fairly. */
  memoryKiB: number;
  /** What the box has written so far: the size of its overlay's upper layer. */
  diskKiB: number;
}

/** What a box costs the host right now; for the figures in docs/boxes.md and test comments. */
export async function boxUsage(box: Box): Promise<BoxUsage> {
  const pids = boxProcesses(`${box.dir}/`);
  let memoryKiB = 0;
  for (const pid of pids) {
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
      memoryKiB += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
    } catch {
      // Exited meanwhile.
    }
  }
  const du = await runOk(["du", "-sk", "--one-file-system", join(box.dir, "upper")]);
  return { processes: pids.length, memoryKiB, diskKiB: Number(du.split("\t")[0]) };
}

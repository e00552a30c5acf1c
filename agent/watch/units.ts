/**
 * Watches systemd units for watch mode by following the journal: systemd (PID 1) logs every state
 * change of a unit (starting, started, stopping, stopped, failed, a main process that died) with the
 * unit in its UNIT field, so one `journalctl --follow` child, filtered on PID 1 and our units, sees
 * a `systemctl stop`, a crash or a kill at once. Why not D-Bus: docs/agent.md, "Watch mode"
 * (measured: a D-Bus client in the daemon costs more memory than this child, and systemd sends unit
 * signals only to clients that subscribe, every unit's to each).
 *
 * The child (agent/sys/journal.ts) is started again if it ends (after 5 s, then backing off); each
 * line it prints is a JSON entry, of which only the UNIT field is read.
 */
import { type Follower, followLines } from "../sys/journal.js";

export const JOURNALCTL = "journalctl";

/** journalctl's argv: new entries only, JSON with the UNIT field, from PID 1, about these units. */
export function journalArgs(units: readonly string[]): string[] {
  return [
    "--follow",
    "--lines=0",
    "--output=json",
    "--output-fields=UNIT",
    "_PID=1",
    ...units.map((u) => `UNIT=${u}`),
  ];
}

export class UnitWatcher {
  private readonly units: Map<string, string[]>;
  private follower: Follower | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private closed = false;

  constructor(
    units: Record<string, string[]>,
    private readonly onChange: (ids: string[], unit: string) => void,
    private readonly log: (line: string) => void,
    private readonly command = JOURNALCTL,
  ) {
    this.units = new Map(Object.entries(units));
    if (this.units.size > 0) this.start();
  }

  /** The journalctl child's pid, for measuring it (bench/watch.ts). */
  get pid(): number | undefined {
    return this.follower?.pid;
  }

  close(): void {
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.follower?.stop();
    this.follower = null;
  }

  private start(): void {
    const onLine = (line: string) => {
      this.failures = 0;
      this.line(line);
    };
    this.follower = followLines(this.command, journalArgs([...this.units.keys()]), onLine, (why) => {
      if (this.closed) return;
      this.follower = null;
      this.failures++;
      const delay = Math.min(300_000, 5000 * 2 ** (this.failures - 1));
      this.log(`watch: journalctl ${why}; following the journal again in ${delay / 1000}s`);
      this.restartTimer = setTimeout(() => this.start(), delay);
      this.restartTimer.unref();
    });
  }

  private line(line: string): void {
    let unit: unknown;
    try {
      unit = (JSON.parse(line) as { UNIT?: unknown }).UNIT;
    } catch {
      return;
    }
    const ids = typeof unit === "string" ? this.units.get(unit) : undefined;
    if (ids) this.onChange(ids, unit as string);
  }
}

/** systemd through systemctl and journalctl: unit state as key=value, actions, the journal's tail. */
import { existsSync } from "node:fs";
import { TendError } from "../../core/errors.js";
import type { Json } from "../../core/types.js";
import { cEnv, describeExit, lastLines, run, runTool } from "./proc.js";

export const SHOW_PROPERTIES = [
  "LoadState",
  "ActiveState",
  "SubState",
  "UnitFileState",
  "NeedDaemonReload",
] as const;
export type UnitState = Partial<Record<(typeof SHOW_PROPERTIES)[number], string>>;

/** Parse `systemctl show` output (`Key=value` lines; values may contain `=`). */
export function parseShow(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

const SUFFIX = /\.(service|socket|timer|target|mount|automount|path|slice|scope|swap|device)$/;

/** A unit name: `nginx` means `nginx.service`. */
export function unitName(name: string): string {
  return SUFFIX.test(name) ? name : `${name}.service`;
}

export async function show(unit: string, signal?: AbortSignal): Promise<UnitState> {
  const out = await runTool(["systemctl", "show", `--property=${SHOW_PROPERTIES.join(",")}`, "--", unit], {
    signal,
  });
  return parseShow(out) as UnitState;
}

/**
 * The state of several units in one `systemctl show` (its blocks come in the order of the units,
 * separated by a blank line); null when the output has not one block per unit.
 */
export async function showMany(
  units: string[],
  signal?: AbortSignal,
): Promise<Map<string, UnitState> | null> {
  if (units.length === 0) return new Map();
  const out = await runTool(
    ["systemctl", "show", `--property=${SHOW_PROPERTIES.join(",")}`, "--", ...units],
    {
      signal,
    },
  );
  const blocks = out.replace(/\n+$/, "").split(/\n\n/);
  if (blocks.length !== units.length) return null;
  return new Map(units.map((u, i) => [u, parseShow(blocks[i]!) as UnitState]));
}

export async function systemctl(args: string[], signal?: AbortSignal): Promise<void> {
  await runTool(["systemctl", ...args], { signal });
}

/** The last lines the unit logged, for an error message; empty when the journal cannot be read. */
export async function journalTail(unit: string, lines = 20, signal?: AbortSignal): Promise<string> {
  try {
    const r = await run(
      ["journalctl", "--unit", unit, "--lines", String(lines), "--no-pager", "--output", "cat"],
      {
        signal,
      },
    );
    return r.stdout.trimEnd();
  } catch {
    return "";
  }
}

export const isActive = (s: UnitState) => s.ActiveState === "active" || s.ActiveState === "reloading";
export const isEnabled = (s: UnitState) =>
  ["enabled", "enabled-runtime", "alias", "static", "indirect", "generated", "transient"].includes(
    s.UnitFileState ?? "",
  );

/** Whether systemd runs this box (sd_booted's test): otherwise there is no manager to ask or reload. */
export function systemdBooted(): boolean {
  return existsSync("/run/systemd/system");
}

/**
 * Each unit's install state as `systemctl is-enabled` reads it from disk (enabled, disabled,
 * static, masked, not-found...): unlike `show -p UnitFileState`, it sees a change made without a
 * daemon-reload. One process for all of them.
 */
export async function enabledStates(
  units: readonly string[],
  signal?: AbortSignal,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (units.length === 0) return out;
  // Exits non-zero when any is not enabled; the states are on stdout, one line per unit, in order.
  const r = await run(["systemctl", "is-enabled", "--", ...units], { env: cEnv(), signal });
  const lines = r.stdout.split("\n").filter(Boolean);
  if (lines.length !== units.length)
    throw new TendError(
      "TEND_E_COMMAND_FAILED",
      `systemctl is-enabled ${units.join(" ")}: ${lastLines(r.output, 5)}`,
    );
  for (const [i, u] of units.entries()) out.set(u, lines[i]!);
  return out;
}

/** Units whose files changed on disk since systemd loaded them (`NeedDaemonReload=yes`). */
export async function needReload(units: readonly string[], signal?: AbortSignal): Promise<string[]> {
  if (units.length === 0) return [];
  const out = await runTool(["systemctl", "show", "--property=Id,NeedDaemonReload", "--", ...units], {
    signal,
  });
  return out
    .split("\n\n")
    .map(parseShow)
    .filter((s) => s.NeedDaemonReload === "yes")
    .map((s) => s.Id ?? "");
}

/**
 * `systemctl daemon-reload`, once for every unit file written so far in this run: clears the run's
 * `daemonReloadNeeded` flag and counts it (`service.daemon_reloads`), shared with the service kind.
 */
export async function daemonReload(run: Record<string, Json>, signal?: AbortSignal): Promise<void> {
  await systemctl(["daemon-reload"], signal);
  run.daemonReloadNeeded = false;
  const n = run["service.daemon_reloads"];
  run["service.daemon_reloads"] = (typeof n === "number" ? n : 0) + 1;
}

/** Stop (a unit systemd never loaded needs no stop) and disable, before its file goes. */
export async function stopAndDisable(unit: string, signal: AbortSignal): Promise<void> {
  const stop = await run(["systemctl", "stop", "--", unit], { env: cEnv(), signal });
  if (stop.code !== 0 && stop.code !== 5)
    throw new TendError(
      "TEND_E_COMMAND_FAILED",
      `systemctl stop ${unit} ${describeExit(stop)}: ${lastLines(stop.output, 5)}`,
    );
  await systemctl(["disable", "--quiet", "--no-reload", "--", unit], signal);
}

/** systemd through systemctl and journalctl: unit state as key=value, actions, the journal's tail. */
import { run, runTool } from "./proc.js";

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

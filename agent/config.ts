/**
 * The agent's configuration: /etc/tend/agent.yaml (or --config FILE), parsed with positions and
 * checked against schemas/agent-config.schema.json, with every default filled in.
 */
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { parse as parseCron } from "node-cron";
import { TendError } from "../core/errors.js";
import { schemaProblems } from "../core/schema.js";
import { parseYaml } from "../core/yaml.js";

export const DEFAULT_CONFIG_FILE = "/etc/tend/agent.yaml";

export interface AgentConfig {
  server: string;
  node: string;
  schedule: string;
  splay: number;
  stateDir: string;
  maxCachedAgeS: number;
  lockWaitS: number;
  runTimeoutS: number;
  spoolMaxReports: number;
  spoolMaxBytes: number;
  /** Watch mode (agent/watch/): repair changes to the catalog's resources at once. */
  watch: boolean;
  /** The fight guard: more than `repairs` watch repairs of one resource within `windowS` make it contested. */
  watchGuard: { repairs: number; windowS: number };
  /** Whether the daemon holds a push stream to the server (agent/push/channel.ts). */
  push: boolean;
  /** The environment asked of the server (docs/environments.md); null: the one nodes.yaml gives. */
  environment: string | null;
}

interface RawConfig {
  server?: string;
  node?: string;
  schedule?: string;
  splay?: number;
  state_dir?: string;
  max_cached_age?: string;
  lock_wait?: number;
  run_timeout?: number;
  spool_max_reports?: number;
  spool_max_bytes?: number;
  watch?: boolean;
  watch_guard_repairs?: number;
  watch_guard_window?: string;
  push?: boolean;
  environment?: string;
}

const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "7d" → 604800; the schema has already checked the form. */
export function durationS(text: string): number {
  const m = /^([0-9]+)([smhd])$/.exec(text);
  if (!m) throw new TendError("TEND_E_CONFIG", `"${text}" is not a duration such as 7d, 12h or 90m`);
  return Number(m[1]) * UNIT_S[m[2]!]!;
}

const DAY_S = 86400;

/**
 * The default `splay`: the shortest time between two ticks of `schedule`, at most a day (1800 for
 * the default `*\/30 * * * *`). A fleet's runs then spread over the whole interval, and a node's
 * offset (always below `splay`) ends before the next tick. Only the time-of-day fields count: days,
 * months and weekdays can only lengthen a gap, and the wrap from the last tick of a day to the
 * first of the next is counted even when the next day has no tick. 0 for an expression node-cron
 * rejects (the daemon reports it).
 */
export function scheduleIntervalS(schedule: string): number {
  let fields: { second: number[]; minute: number[]; hour: number[] };
  try {
    fields = parseCron(schedule);
  } catch {
    return 0;
  }
  const ticks = new Set<number>();
  for (const h of fields.hour)
    for (const m of fields.minute) for (const s of fields.second) ticks.add(h * 3600 + m * 60 + s);
  const sorted = [...ticks].sort((a, b) => a - b);
  let gap = DAY_S;
  for (let i = 1; i < sorted.length; i++) gap = Math.min(gap, sorted[i]! - sorted[i - 1]!);
  if (sorted.length > 1) gap = Math.min(gap, sorted[0]! + DAY_S - sorted[sorted.length - 1]!);
  return gap;
}

/** The configuration in `text` (from `file`), checked; defaults filled in. */
export function parseConfig(text: string, file: string): AgentConfig {
  const { parsed, problems } = parseYaml(text, file);
  if (!parsed) throw new TendError("TEND_E_CONFIG", `${file} is not valid YAML`, problems);
  const value = parsed.value ?? {};
  const schema = schemaProblems("agent-config", value, { file, locate: parsed.locate });
  if (schema.length > 0) throw new TendError("TEND_E_CONFIG", `${file} has errors`, schema);
  const raw = value as RawConfig;
  if (!raw.server) {
    throw new TendError(
      "TEND_E_CONFIG",
      `${file} names no server; run \`tend agent enroll --server URL --token TOKEN\` first`,
    );
  }
  const schedule = raw.schedule ?? "*/30 * * * *";
  return {
    server: raw.server.replace(/\/+$/, ""),
    node: raw.node ?? hostname().toLowerCase(),
    schedule,
    splay: raw.splay ?? scheduleIntervalS(schedule),
    stateDir: raw.state_dir ?? "/var/lib/tend",
    maxCachedAgeS: durationS(raw.max_cached_age ?? "7d"),
    lockWaitS: raw.lock_wait ?? 10,
    runTimeoutS: raw.run_timeout ?? 3600,
    spoolMaxReports: raw.spool_max_reports ?? 200,
    spoolMaxBytes: raw.spool_max_bytes ?? 100 * 1024 * 1024,
    watch: raw.watch ?? false,
    watchGuard: {
      repairs: raw.watch_guard_repairs ?? 5,
      windowS: durationS(raw.watch_guard_window ?? "10m"),
    },
    push: raw.push ?? true,
    environment: raw.environment ?? null,
  };
}

export async function loadConfig(file: string): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "ENOENT") {
      throw new TendError(
        "TEND_E_CONFIG",
        `no agent configuration at ${file}; run \`tend agent enroll --server URL --token TOKEN\` first`,
      );
    }
    throw new TendError("TEND_E_CONFIG", `cannot read ${file}: ${e.message}`);
  }
  return parseConfig(text, file);
}

/** The raw keys of an existing configuration file (checked), or {} when there is none. */
export async function readRawConfig(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw err;
  }
  const { parsed, problems } = parseYaml(text, file);
  if (!parsed) throw new TendError("TEND_E_CONFIG", `${file} is not valid YAML`, problems);
  const value = parsed.value ?? {};
  const schema = schemaProblems("agent-config", value, { file, locate: parsed.locate });
  if (schema.length > 0) throw new TendError("TEND_E_CONFIG", `${file} has errors`, schema);
  return value as Record<string, unknown>;
}

/** agent.yaml text for these keys (JSON scalars are YAML), server and node first. */
export function renderConfig(values: Record<string, unknown>): string {
  const { server, node, ...rest } = values;
  const lines = [
    "# tend agent configuration; docs/agent.md lists every key and its default.",
    `server: ${JSON.stringify(server)}`,
    `node: ${JSON.stringify(node)}`,
  ];
  for (const [key, value] of Object.entries(rest)) {
    if (value !== undefined) lines.push(`${key}: ${JSON.stringify(value)}`);
  }
  return `${lines.join("\n")}\n`;
}

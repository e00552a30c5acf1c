/**
 * One authored health check (`- http: http://127.0.0.1:8080/healthz ...`) → its normalised form:
 * the probe (http, tcp or command) and its target, durations in ms, and its id. A check whose text
 * holds no Liquid is complete here (`fixed`), so `tend validate` finds a bad URL or address; one
 * with Liquid (`{{ vars.port }}`) is rendered for each node by the compiler (core/check-list.ts)
 * and checked then. The probes themselves are the agent's (agent/sys/probe-*.ts).
 */
import type { Problem } from "./errors.js";
import type { Fail } from "./normalize.js";
import { splitCommand } from "./shellwords.js";
import type { TemplateScope, Templates } from "./template.js";
import type { CatalogCheck, CheckType, Json } from "./types.js";
import type { PathSegment } from "./yaml.js";

export const CHECK_DEFAULTS = { timeout_ms: 10_000, retries: 0, interval_ms: 1_000 } as const;
const MAX_DURATION_MS = 10 * 60_000;
const TYPES: readonly CheckType[] = ["http", "tcp", "command"];
const LIQUID = /\{\{|\{%/;

/** The text fields of a check, as written or as rendered. */
export interface CheckText {
  target: string | string[];
  name?: string;
  contains?: string;
}

/** The probe part of a catalog check: what build() makes of its text. */
type Probe = Pick<CatalogCheck, "id" | "type" | "url" | "status" | "contains" | "host" | "port" | "argv">;

export interface DeclaredCheck {
  /** The id as written (templates unrendered): checks are merged or refused as duplicates by it. */
  key: string;
  type: CheckType;
  text: CheckText;
  /** Whether any text field holds Liquid (then `fixed` is absent). */
  templated: boolean;
  status?: number;
  timeout_ms: number;
  retries: number;
  interval_ms: number;
  /** The probe, complete, for a check without Liquid. */
  fixed?: Probe;
  /** Resource ids it follows: its own `require`, or (null) every resource of its recipe. */
  require: string[] | null;
  recipe: string;
  file: string;
  /** Path of the check inside its file (for locating errors). */
  path: PathSegment[];
  line?: number;
}

export function normalizeCheck(
  raw: Record<string, Json>,
  at: { recipe: string; file: string; path: PathSegment[]; line?: number },
  fail: Fail,
  templates: Templates,
): DeclaredCheck | undefined {
  const given = TYPES.filter((t) => raw[t] !== undefined);
  if (given.length !== 1) {
    const found = given.length ? given.join(" and ") : "none";
    fail(`a check probes exactly one of http, tcp or command (found ${found})`, given.slice(1, 2));
    return undefined;
  }
  const type = given[0]!;
  for (const key of ["status", "contains"])
    if (raw[key] !== undefined && type !== "http")
      fail(`${key} only applies to http checks (this is a ${type} check)`, [key]);
  const target = type === "command" ? argvOf(raw.command!, fail) : String(raw[type]);
  if (target === undefined) return undefined;
  const text: CheckText = { target };
  if (raw.name !== undefined) text.name = String(raw.name);
  if (raw.contains !== undefined) text.contains = String(raw.contains);
  const root = `${at.recipe}/templates`;
  let templated = false;
  for (const [value, field] of textFields(type, text)) {
    if (!LIQUID.test(value)) continue;
    templated = true;
    const parsed = templates.parseText(root, value);
    if (!Array.isArray(parsed)) fail(parsed.message, field, parsed.code);
  }
  const d: DeclaredCheck = {
    key: text.name ?? idOf(type, target),
    type,
    text,
    templated,
    timeout_ms: durationMs(raw.timeout, CHECK_DEFAULTS.timeout_ms, "timeout", 1, fail),
    retries: typeof raw.retries === "number" ? raw.retries : CHECK_DEFAULTS.retries,
    interval_ms: durationMs(raw.interval, CHECK_DEFAULTS.interval_ms, "interval", 0, fail),
    require: Array.isArray(raw.require) ? raw.require.map(String) : null,
    ...at,
  };
  if (typeof raw.status === "number") d.status = raw.status;
  if (!templated) {
    const built = build(d, text);
    if ("error" in built) fail(built.error, built.field, "TEND_E_CHECK");
    else d.fixed = built;
  }
  return d;
}

/** The probe of a templated check for one node, or a problem (without its place in the file). */
export function renderCheck(
  d: DeclaredCheck,
  scope: TemplateScope,
  templates: Templates,
): Probe | (Problem & { at: PathSegment[] }) {
  const root = `${d.recipe}/templates`;
  const render = (value: string, field: PathSegment[]): string | (Problem & { at: PathSegment[] }) => {
    if (!LIQUID.test(value)) return value;
    const out = templates.renderText(root, value, scope);
    return typeof out === "string" ? out : { ...out, at: field };
  };
  const text: CheckText = { target: d.text.target };
  const fields: [keyof CheckText, PathSegment[]][] = [
    ["name", ["name"]],
    ["contains", ["contains"]],
  ];
  for (const [key, field] of fields) {
    const value = d.text[key];
    if (typeof value !== "string") continue;
    const out = render(value, field);
    if (typeof out !== "string") return out;
    text[key] = out as never;
  }
  if (Array.isArray(d.text.target)) {
    const argv: string[] = [];
    for (const [i, arg] of d.text.target.entries()) {
      const out = render(arg, ["command", i]);
      if (typeof out !== "string") return out;
      argv.push(out);
    }
    text.target = argv;
  } else {
    const out = render(d.text.target, [d.type]);
    if (typeof out !== "string") return out;
    text.target = out;
  }
  const built = build(d, text);
  if (!("error" in built)) return built;
  return {
    code: "TEND_E_CHECK",
    message: `${built.error} (rendered for node ${scope.node})`,
    at: built.field,
  };
}

/** The probe from a check's text, or why it cannot be probed. */
function build(d: DeclaredCheck, text: CheckText): Probe | { error: string; field: PathSegment[] } {
  const id = text.name ?? idOf(d.type, text.target);
  const field = [d.type];
  if (d.type === "command") {
    const argv = text.target as string[];
    if (!argv[0]) return { error: "the command is empty: give the program to run first", field };
    return { id, type: d.type, argv };
  }
  const target = (text.target as string).trim();
  if (d.type === "tcp") {
    const m =
      /^\[([0-9A-Fa-f:.]+)\]:([0-9]{1,5})$/.exec(target) ?? /^([^\s:[\]/]+):([0-9]{1,5})$/.exec(target);
    const port = Number(m?.[2]);
    if (!m || port < 1 || port > 65535)
      return { error: `"${target}" is not HOST:PORT; write e.g. 127.0.0.1:5432, or [::1]:5432`, field };
    return { id, type: d.type, host: m[1]!, port };
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return { error: `"${target}" is not a URL; write e.g. http://127.0.0.1:8080/healthz`, field };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    return { error: `"${target}" is not an http:// or https:// URL`, field };
  if (url.username || url.password)
    return {
      error: "a check URL must not carry a user or password: it is shown in every report and page",
      field,
    };
  const probe: Probe = { id, type: d.type, url: url.href };
  if (d.status !== undefined) probe.status = d.status;
  if (text.contains !== undefined) probe.contains = text.contains;
  return probe;
}

/** `http:URL`, `tcp:HOST:PORT`, `command:ARGV` (an argument with spaces or quotes in JSON quotes). */
function idOf(type: CheckType, target: string | string[]): string {
  if (!Array.isArray(target)) return `${type}:${target.trim()}`;
  return `${type}:${target.map((a) => (a === "" || /[\s"'\\]/.test(a) ? JSON.stringify(a) : a)).join(" ")}`;
}

function argvOf(command: Json, fail: Fail): string[] | undefined {
  if (Array.isArray(command)) return command.map(String);
  const split = splitCommand(String(command));
  if ("error" in split) {
    fail(
      `the command ${split.error}; a check runs no shell: write it as an argv list ([sh, -c, "..."] when you need one)`,
      ["command"],
      "TEND_E_CHECK",
    );
    return undefined;
  }
  return split.argv;
}

function textFields(type: CheckType, text: CheckText): [string, PathSegment[]][] {
  const out: [string, PathSegment[]][] = [];
  if (Array.isArray(text.target)) for (const [i, a] of text.target.entries()) out.push([a, ["command", i]]);
  else out.push([text.target, [type]]);
  if (text.name !== undefined) out.push([text.name, ["name"]]);
  if (text.contains !== undefined) out.push([text.contains, ["contains"]]);
  return out;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "5s", "2m", "500ms", "1.5s" or a number of seconds (the schema checked the form) → ms. */
function durationMs(value: Json | undefined, fallback: number, key: string, min: number, fail: Fail): number {
  if (value === undefined) return fallback;
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$/.exec(String(value));
  const ms = m ? Math.round(Number(m[1]) * UNIT_MS[m[2] ?? "s"]!) : Number.NaN;
  if (!(ms >= min && ms <= MAX_DURATION_MS)) {
    fail(`${key} must be ${min > 0 ? "more than 0" : "0 or more"} and at most 10m, found ${String(value)}`, [
      key,
    ]);
    return fallback;
  }
  return ms;
}

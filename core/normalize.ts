/**
 * One authored resource (`- file: /etc/motd ...`) → its normalised form: kind, name, id, params
 * with defaults, and its explicit edges. What each kind accepts and how it is normalised is data,
 * from the kinds' specs (core/kind-spec.ts, generated into core/generated/kinds.ts); this file knows
 * no kind by name. Content stays symbolic here (content/source/template) and is resolved to a
 * sha256 by the compiler, which knows vars and facts.
 */
import { posix } from "node:path";
import type { Problem } from "./errors.js";
import { KIND_RULES, KIND_TYPES } from "./generated/kinds.js";
import type { KindRules } from "./kind-spec.js";
import { closest } from "./schema.js";
import { splitCommand } from "./shellwords.js";
import type { Json, ResourceType } from "./types.js";
import type { PathSegment } from "./yaml.js";

export const KINDS: readonly ResourceType[] = KIND_TYPES;

/** Wanted bytes as the recipe gives them, the attribute that gave them, and the param of their sha256. */
export type ContentSpec = (
  | { from: "content"; text: string }
  | { from: "source" | "template"; path: string }
) & {
  key: string;
  param: string;
};

export interface Declared {
  id: string;
  type: ResourceType;
  name: string;
  params: Record<string, Json>;
  content?: ContentSpec;
  require: string[];
  notify: string[];
  recipe: string;
  file: string;
  /** Path of the resource inside its file (for locating errors). */
  path: PathSegment[];
  line?: number;
  /** false when a recipe declaring it says `watch: false`. */
  watch?: false;
}

export type Fail = (message: string, field: PathSegment[], code?: Problem["code"]) => void;

export function normalize(
  raw: Record<string, Json>,
  at: { recipe: string; file: string; path: PathSegment[]; line?: number },
  fail: Fail,
): Declared | undefined {
  const type = kindOf(raw, fail);
  if (!type) return undefined;
  const k = KIND_RULES[type];
  let name = String(raw[type]);
  if (k.name_is_path) name = normalPath(name, type, fail);
  const require = (raw.require as string[] | undefined) ?? [];
  const notify = (raw.notify as string[] | undefined) ?? [];
  // Attributes are read from `raw` itself, by name (a copy with keys deleted, for each of
  // thousands of resources, is slow: deleting turns an object into a dictionary).
  const params: Record<string, Json> = {};
  for (const key of k.copy) if (raw[key] !== undefined) params[key] = raw[key];
  for (const key of k.modes) if (typeof raw[key] === "string") params[key] = raw[key].padStart(4, "0");
  if (k.infer)
    for (const i of k.infer)
      if (params[i.param] === undefined && raw[i.when_given] !== undefined) params[i.param] = i.value;
  for (const key in k.defaults) if (params[key] === undefined) params[key] = k.defaults[key]!;
  if (k.commands) commands(raw, name, k.commands, params, type, fail);
  const content = k.content ? contentOf(raw, k.content, fail) : undefined;
  if (k.rules) checkRules(raw, params, k.rules, fail);
  return { id: `${type}:${name}`, type, name, params, content, require, notify, ...at };
}

/** The kind an authored resource names, or undefined when it names none or several. */
export function kindKey(raw: Record<string, Json>): ResourceType | undefined {
  return kindOf(raw, () => {});
}

/**
 * The kind a resource names by its key. A kind key that is also an attribute of other kinds
 * (`user`, `group`) names the kind only when no other kind key is present.
 */
function kindOf(raw: Record<string, Json>, fail: Fail): ResourceType | undefined {
  const found: ResourceType[] = [];
  let attribute: ResourceType | undefined;
  let rank = Number.POSITIVE_INFINITY;
  for (const t of KIND_TYPES) {
    if (!Object.hasOwn(raw, t)) continue;
    const r = KIND_RULES[t].attribute_key_rank;
    if (r === undefined) found.push(t);
    else if (r < rank) {
      attribute = t;
      rank = r;
    }
  }
  if (found.length === 1) return found[0];
  if (found.length === 0 && attribute) return attribute;
  if (found.length === 0) {
    // A misspelt kind (`pakage: nginx`) is a key no kind knows: name it and the kind it resembles.
    for (const key of Object.keys(raw)) {
      const guess = closest(key, KINDS as string[]);
      if (guess && key !== "require" && key !== "notify") {
        fail(
          `"${key}" is not a kind; did you mean "${guess}"? (a resource needs exactly one kind key: ${KINDS.join(", ")})`,
          [key],
          "TEND_E_RESOURCE_KIND",
        );
        return undefined;
      }
    }
  }
  const what = found.length ? `it has ${found.join(" and ")}` : "it has none";
  fail(`a resource needs exactly one kind key (${KINDS.join(", ")}); ${what}`, [], "TEND_E_RESOURCE_KIND");
  return undefined;
}

function normalPath(name: string, type: string, fail: Fail): string {
  // Nearly every path is already normal: no "..", ".", empty segment or trailing slash.
  if (NORMAL_PATH.test(name)) return name;
  const normal = posix.normalize(name);
  if (name.split("/").includes("..")) fail(`path "${name}" must not contain ".."`, [type]);
  return normal.length > 1 ? normal.replace(/\/$/, "") : normal;
}

/** An absolute path that posix.normalize leaves as it is and that has no trailing slash. */
const NORMAL_PATH = /^(?:\/(?!\.\.?(?:\/|$))[^/]+)+$/;

const CONTENT_FROM = ["content", "source", "template"] as const;

function contentOf(
  raw: Record<string, Json>,
  spec: NonNullable<KindRules["content"]>,
  fail: Fail,
): ContentSpec | undefined {
  const given = CONTENT_FROM.filter((from) => spec[from] !== undefined && raw[spec[from]!] !== undefined);
  if (given.length > 1) {
    const keys = given.map((from) => spec[from]!);
    fail(
      `give only one of ${orList(CONTENT_FROM.flatMap((f) => spec[f] ?? []))} (found ${keys.join(" and ")})`,
      [keys[1]!],
    );
  }
  const from = given[0];
  if (!from) return undefined;
  const key = spec[from]!;
  const value = String(raw[key]);
  return from === "content"
    ? { from, text: value, key, param: spec.param }
    : { from, path: value, key, param: spec.param };
}

function commands(
  raw: Record<string, Json>,
  name: string,
  spec: NonNullable<KindRules["commands"]>,
  params: Record<string, Json>,
  type: string,
  fail: Fail,
): void {
  const shell = spec.shell !== undefined && raw[spec.shell] === true;
  if (spec.argv) {
    const given = raw[spec.argv.from] !== undefined;
    params[spec.argv.param] = toArgv(
      given ? raw[spec.argv.from]! : name,
      shell,
      [given ? spec.argv.from : type],
      fail,
    );
  }
  for (const guard of spec.guards ?? [])
    if (raw[guard] !== undefined) params[guard] = toArgv(raw[guard], shell, [guard], fail);
  if (shell) params[spec.shell!] = true;
}

function toArgv(command: Json, shell: boolean, field: PathSegment[], fail: Fail): string[] {
  if (Array.isArray(command)) {
    const argv = command.map(String);
    return shell ? ["/bin/sh", "-c", argv.join(" ")] : argv;
  }
  const line = String(command);
  if (shell) return ["/bin/sh", "-c", line];
  const split = splitCommand(line);
  if ("error" in split) {
    fail(
      `the command ${split.error}; add "shell: true" to run it with /bin/sh, or write it as an argv list`,
      field,
      "TEND_E_EXEC_SHELL",
    );
    return [line];
  }
  return split.argv;
}

function checkRules(
  raw: Record<string, Json>,
  params: Record<string, Json>,
  rules: NonNullable<KindRules["rules"]>,
  fail: Fail,
): void {
  for (const rule of rules) {
    if ("one_of" in rule) {
      const given = rule.one_of.filter((key) => raw[key] !== undefined);
      if (given.length > 1)
        fail(`give only one of ${orList(rule.one_of)} (found ${given.join(" and ")})`, [given[1]!]);
    } else if ("only_when" in rule) {
      const value = params[rule.only_when] ?? raw[rule.only_when];
      if (raw[rule.key] !== undefined && !rule.is.includes(String(value)))
        fail(
          `${rule.key} only applies to ${rule.only_when}: ${orList(rule.is)} (this is ${rule.only_when}: ${String(value)})`,
          [rule.key],
        );
    } else {
      const value = params[rule.required_when] ?? raw[rule.required_when];
      if (value === rule.is && raw[rule.key] === undefined)
        fail(`${rule.required_when}: ${rule.is} needs ${rule.key}`, []);
    }
  }
}

/** "a, b or c". */
function orList(items: readonly string[]): string {
  return items.length > 1 ? `${items.slice(0, -1).join(", ")} or ${items.at(-1)}` : (items[0] ?? "");
}

/**
 * One authored resource (`- file: /etc/motd ...`) → its normalised form: kind, name, id, params
 * with defaults, and its explicit edges. Content stays symbolic here (content/source/template) and
 * is resolved to a sha256 by the compiler, which knows vars and facts.
 */
import { posix } from "node:path";
import type { Problem } from "./errors.js";
import { splitCommand } from "./shellwords.js";
import type { Json, ResourceType } from "./types.js";
import type { PathSegment } from "./yaml.js";

export const KINDS: ResourceType[] = ["package", "file", "service", "user", "group", "exec"];

export type ContentSpec = { from: "content"; text: string } | { from: "source" | "template"; path: string };

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
}

export type Fail = (message: string, field: PathSegment[], code?: Problem["code"]) => void;

export function normalize(
  raw: Record<string, Json>,
  at: { recipe: string; file: string; path: PathSegment[]; line?: number },
  fail: Fail,
): Declared | undefined {
  const type = kindOf(raw, fail);
  if (!type) return undefined;
  let name = String(raw[type]);
  // Attributes are read from `raw` itself: every kind but user and group picks its keys by name,
  // and none of those is the kind key, require or notify. (A copy with keys deleted, for each of
  // thousands of resources, is slow: deleting turns an object into a dictionary.)
  const attrs = raw;
  const require = (raw.require as string[] | undefined) ?? [];
  const notify = (raw.notify as string[] | undefined) ?? [];
  let params: Record<string, Json>;
  let content: ContentSpec | undefined;
  switch (type) {
    case "package":
      params = { ensure: (attrs.ensure as string) ?? "installed" };
      break;
    case "service":
      params = pick(attrs, ["ensure", "enabled"]);
      break;
    case "user":
    case "group": {
      const rest: Record<string, Json> = { ...raw };
      delete rest[type];
      delete rest.require;
      delete rest.notify;
      params = { ensure: "present", ...rest };
      break;
    }
    case "file": {
      // Nearly every path is already normal: no "..", ".", empty segment or trailing slash.
      if (!NORMAL_PATH.test(name)) {
        const normal = posix.normalize(name);
        if (name.split("/").includes("..")) fail(`path "${name}" must not contain ".."`, [type]);
        name = normal.length > 1 ? normal.replace(/\/$/, "") : normal;
      }
      const sources = (["content", "source", "template"] as const).filter((k) => attrs[k] !== undefined);
      if (sources.length > 1)
        fail(`give only one of content, source or template (found ${sources.join(" and ")})`, [sources[1]!]);
      const ensure = (attrs.ensure as string) ?? (attrs.target !== undefined ? "link" : "file");
      if (ensure !== "file" && sources.length)
        fail(`${sources[0]} only applies to ensure: file (this is ensure: ${ensure})`, [sources[0]!]);
      if (ensure === "link" && attrs.target === undefined) fail(`ensure: link needs a target`, []);
      if (ensure !== "link" && attrs.target !== undefined)
        fail(`target only applies to ensure: link`, ["target"]);
      params = pick(attrs, ["target", "owner", "group", "follow_symlink", "backup", "sensitive"], { ensure });
      if (typeof attrs.mode === "string") params.mode = attrs.mode.padStart(4, "0");
      if (attrs.content !== undefined) content = { from: "content", text: String(attrs.content) };
      else if (attrs.source !== undefined) content = { from: "source", path: String(attrs.source) };
      else if (attrs.template !== undefined) content = { from: "template", path: String(attrs.template) };
      break;
    }
    case "exec": {
      const shell = attrs.shell === true;
      const argv = toArgv(
        attrs.command ?? name,
        shell,
        attrs.command !== undefined ? ["command"] : [type],
        fail,
      );
      params = {
        argv,
        timeout: (attrs.timeout as number) ?? 300,
        ...pick(attrs, ["creates", "refresh_only", "cwd", "env", "user", "sensitive"]),
      };
      if (shell) params.shell = true;
      for (const guard of ["unless", "onlyif"] as const) {
        if (attrs[guard] !== undefined) params[guard] = toArgv(attrs[guard], shell, [guard], fail);
      }
      break;
    }
  }
  return { id: `${type}:${name}`, type, name, params, content, require, notify, ...at };
}

const PRIMARY = ["file", "exec", "package", "service"] as const;

/**
 * file, exec, package and service are always kind keys; user and group are kind keys only when
 * none of those is present, because elsewhere they are attributes (a file's group, an exec's user).
 */
function kindOf(raw: Record<string, Json>, fail: Fail): ResourceType | undefined {
  const primary: ResourceType[] = [];
  for (const k of PRIMARY) if (Object.hasOwn(raw, k)) primary.push(k);
  if (primary.length === 1) return primary[0];
  if (primary.length === 0) {
    if (Object.hasOwn(raw, "user")) return "user";
    if (Object.hasOwn(raw, "group")) return "group";
  }
  const found = primary.length ? `it has ${primary.join(" and ")}` : "it has none";
  fail(`a resource needs exactly one kind key (${KINDS.join(", ")}); ${found}`, [], "TEND_E_RESOURCE_KIND");
  return undefined;
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

/** `keys` of `o` that are defined, added to `out` (a new object by default), in that order. */
function pick(o: Record<string, Json>, keys: string[], out: Record<string, Json> = {}): Record<string, Json> {
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** An absolute path that posix.normalize leaves as it is and that has no trailing slash. */
const NORMAL_PATH = /^(?:\/(?!\.\.?(?:\/|$))[^/]+)+$/;

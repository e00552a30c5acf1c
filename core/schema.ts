/**
 * The one way any input is checked: JSON Schemas in schemas/, precompiled by `npm run gen` into
 * core/generated/validators.js. Errors come back as Problems in plain words, located in the file
 * when the caller can locate a path (YAML keeps positions).
 */
import type { ErrorObject, ValidateFunction } from "ajv";
import type { Problem } from "./errors.js";
import * as validators from "./generated/validators.js";
import type { PathSegment, Position } from "./yaml.js";

const byName: Record<string, ValidateFunction> = {};
for (const [exported, fn] of Object.entries(validators)) {
  byName[exported.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)] = fn as ValidateFunction;
}

export function schemaNames(): string[] {
  return Object.keys(byName).sort();
}

/** Raw ajv errors, or an empty list when `data` is valid. */
export function schemaErrors(name: string, data: unknown): ErrorObject[] {
  const fn = byName[name];
  if (!fn) throw new Error(`no schema named "${name}" in schemas/`);
  return fn(data) ? [] : (fn.errors ?? []);
}

export function isValid(name: string, data: unknown): boolean {
  const fn = byName[name];
  if (!fn) throw new Error(`no schema named "${name}" in schemas/`);
  return fn(data);
}

export interface LocateOptions {
  file?: string;
  locate?: (path: PathSegment[], key?: boolean) => Position | undefined;
  /** Path of `data` inside the file, when it is a part of it. */
  base?: PathSegment[];
}

/** Plain-word problems for `data` against schema `name` (empty when valid). */
export function schemaProblems(name: string, data: unknown, opts: LocateOptions = {}): Problem[] {
  const errors = schemaErrors(name, data).filter((e) => e.keyword !== "if");
  const seen = new Set<string>();
  const out: Problem[] = [];
  // An error under a path makes the generic ones above it (anyOf/allOf "must match") noise.
  const paths = errors.map((e) => e.instancePath);
  for (const e of errors) {
    if (
      (e.keyword === "allOf" || e.keyword === "anyOf") &&
      paths.some((p) => p.startsWith(`${e.instancePath}/`))
    )
      continue;
    // The branches of an anyOf each complain; the anyOf's own message says it once.
    if (e.keyword === "required" && e.schemaPath.includes("/anyOf/")) continue;
    const path = [...(opts.base ?? []), ...splitPointer(e.instancePath)];
    const { message, keyPath } = describe(e, path);
    const key = `${fieldName(keyPath)}\0${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const pos = opts.locate?.(keyPath, e.keyword === "additionalProperties");
    out.push({
      code: "TEND_E_SCHEMA",
      message,
      ...(opts.file ? { file: opts.file } : {}),
      ...(pos ? { line: pos.line, column: pos.column } : {}),
      ...(keyPath.length ? { field: fieldName(keyPath) } : {}),
    });
  }
  return out;
}

function describe(e: ErrorObject, path: PathSegment[]): { message: string; keyPath: PathSegment[] } {
  const p = e.params as Record<string, unknown>;
  const hint = (e.parentSchema as Record<string, unknown> | undefined)?.["x-hint"] as string | undefined;
  switch (e.keyword) {
    case "required":
      return { message: `"${p.missingProperty}" is required here`, keyPath: path };
    case "additionalProperties": {
      const extra = String(p.additionalProperty);
      const known = Object.keys(((e.parentSchema as Record<string, unknown>)?.properties as object) ?? {});
      const guess = closest(extra, known);
      const tail = guess
        ? `; did you mean "${guess}"?`
        : known.length
          ? `; known keys: ${known.join(", ")}`
          : "";
      return { message: `unknown key "${extra}"${tail}`, keyPath: [...path, extra] };
    }
    case "type":
      return {
        message: `must be ${hint ?? article(String(p.type).replace(",", " or "))}, found ${describeValue(e.data)}`,
        keyPath: path,
      };
    case "enum":
      return {
        message: `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}, found ${describeValue(e.data)}`,
        keyPath: path,
      };
    case "pattern":
    case "format":
      return {
        message: `must be ${hint ?? `a string matching ${String(p.pattern ?? p.format)}`}, found ${describeValue(e.data)}`,
        keyPath: path,
      };
    case "anyOf": {
      const alts = ((e.schema as Array<{ required?: string[] }>) ?? []).flatMap((s) => s.required ?? []);
      if (alts.length)
        return { message: `needs at least one of ${alts.map((a) => `"${a}"`).join(", ")}`, keyPath: path };
      return { message: `${e.message ?? "is invalid"}`, keyPath: path };
    }
    default:
      return { message: `${e.message ?? "is invalid"}${hint ? ` (${hint})` : ""}`, keyPath: path };
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

export function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  return `${typeof v} ${String(v)}`;
}

function splitPointer(pointer: string): PathSegment[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** `["resources", 3, "mode"]` → `resources[3].mode`. */
export function fieldName(path: PathSegment[]): string {
  let out = "";
  for (const seg of path) out += typeof seg === "number" ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}

/** The known word nearest to `word` (edit distance ≤ 2), for "did you mean". */
export function closest(word: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const d = distance(word, k);
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

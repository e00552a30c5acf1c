/**
 * `os`: the distribution from os-release(5): `id`, `version_id`, `name`, and `family`, the group of
 * distributions that share a package manager and file layout (`debian`, `redhat`, `alpine`,
 * `suse`), derived from ID then ID_LIKE; any other distribution's family is its own id.
 */
import type { Facts } from "../../core/types.js";
import type { Host } from "./host.js";

export type OsFacts = Facts["os"];

/** os-release(5) puts the file in /etc, with /usr/lib as the vendor's fallback. */
export const osReleasePaths = ["/etc/os-release", "/usr/lib/os-release"] as const;

const families: Record<string, string> = {
  debian: "debian",
  ubuntu: "debian",
  rhel: "redhat",
  fedora: "redhat",
  centos: "redhat",
  rocky: "redhat",
  almalinux: "redhat",
  alma: "redhat",
  ol: "redhat",
  amzn: "redhat",
  alpine: "alpine",
  suse: "suse",
  opensuse: "suse",
  sles: "suse",
};

/**
 * Parses os-release text: `KEY=value` lines, values bare, 'single-quoted' or "double-quoted" with
 * the shell's backslash escapes; comments, blank and malformed lines are skipped.
 */
export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m || m[1] === undefined || m[2] === undefined) continue;
    fields[m[1]] = unquote(m[2]);
  }
  return fields;
}

function unquote(value: string): string {
  const quote = value[0];
  if (value.length >= 2 && (quote === '"' || quote === "'") && value.endsWith(quote)) {
    const inner = value.slice(1, -1);
    return quote === '"' ? inner.replace(/\\([$"\\`])/g, "$1") : inner;
  }
  return value.replace(/\\(.)/g, "$1");
}

/** The family of a distribution: the first of ID, then ID_LIKE in order, that names a known one. */
export function osFamily(id: string, idLike = ""): string {
  for (const name of [id, ...idLike.split(/\s+/)]) {
    const family = families[name.toLowerCase()];
    if (family) return family;
  }
  return id;
}

/** The `os` fact from parsed os-release fields, with the defaults os-release(5) gives. */
export function osFromRelease(fields: Record<string, string>): OsFacts {
  const id = fields.ID || "linux";
  return {
    id,
    version_id: fields.VERSION_ID ?? "",
    family: osFamily(id, fields.ID_LIKE),
    name: fields.NAME || "Linux",
  };
}

export function readOs(host: Host): OsFacts {
  for (const path of osReleasePaths) {
    const text = host.readFile(path);
    if (text !== undefined) return osFromRelease(parseOsRelease(text));
  }
  return osFromRelease({});
}

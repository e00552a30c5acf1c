/**
 * Catalogs built straight as data, so engine and CLI tests need no compiler: `resource()` makes a
 * CatalogResource with its digest (sha256 of the canonical type, name and params, as the compiler
 * computes it) and `catalog()` wraps resources, in the order given, with their inline files.
 * `probeKind()` is a small kind over real files for engine tests; `tendArgv()` runs the CLI.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Kind } from "../../agent/resources/kind.js";
import type { Catalog, CatalogFile, CatalogResource, Facts, Json, ResourceType } from "../../core/types.js";

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = canonical(v);
    }
    return out;
  }
  return value;
}

export function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

export function digestOf(type: ResourceType, name: string, params: Record<string, Json>): string {
  return sha256(JSON.stringify(canonical({ type, name, params })));
}

export interface ResourceOptions {
  require?: string[];
  notify?: string[];
  source?: string;
}

export function resource(
  type: ResourceType,
  name: string,
  params: Record<string, Json> = {},
  options: ResourceOptions = {},
): CatalogResource {
  return {
    id: `${type}:${name}`,
    type,
    name,
    params,
    require: options.require ?? [],
    notify: options.notify ?? [],
    source: options.source ?? "test/recipe.yaml:1",
    digest: digestOf(type, name, params),
  };
}

/** A catalog of `resources` (already in dependency order) and inline `texts` keyed by their sha256. */
export function catalog(resources: CatalogResource[], texts: string[] = [], node = "test-node"): Catalog {
  const files: Record<string, CatalogFile> = {};
  for (const text of texts) files[sha256(text)] = { size: Buffer.byteLength(text), text };
  return { format: 1, node, commit: null, recipes: ["test"], resources, files };
}

/** argv (after `node`) that runs the tend CLI from source, for tests that spawn real runs. */
export function tendArgv(args: string[]): string[] {
  const root = new URL("../../", import.meta.url).pathname;
  const tsx = `${root}node_modules/tsx/dist/esm/index.mjs`;
  const entry = `${root}cli/tend.ts`;
  const code = `const m = await import(${JSON.stringify(entry)}); process.exitCode = await m.run(process.argv.slice(1));`;
  return ["--import", tsx, "--input-type=module", "-e", code, ...args];
}

export const testFacts: Facts = {
  hostname: "test",
  fqdn: "test",
  os: { id: "debian", version_id: "12", family: "debian" },
  arch: "x86_64",
  kernel: "6",
  cpus: 1,
  memory_mb: 1,
  ipv4: [],
};

/**
 * A kind for `type` that keeps `dir/NAME` holding `params.content`. `params.fail` makes it throw in
 * "check", "apply" or "refresh"; "stuck" applies nothing (it never converges); "hang" never settles.
 */
export function probeKind(type: ResourceType, dir: string, events: string[]): Kind {
  const path = (r: CatalogResource) => join(dir, r.name);
  return {
    type,
    spec: {
      type,
      description: "A test kind that keeps a file holding params.content.",
      name: {},
      attributes: {},
    },
    async prefetch(all) {
      const resources = all.filter((r) => r.type === type);
      events.push(`prefetch ${type} ${resources.map((r) => r.id).join(",")}`);
      return { count: resources.length };
    },
    async check(r) {
      events.push(`check ${r.id}`);
      if (r.params.fail === "check") throw new Error("cannot read it");
      const have = existsSync(path(r)) ? readFileSync(path(r), "utf8") : null;
      const want = String(r.params.content ?? "");
      if (have === want) return { changes: [] };
      if (have === null) return { changes: [{ property: "ensure", from: "absent", to: "present" }] };
      return { changes: [{ property: "content", from: have, to: want }], diff: `-${have}\n+${want}\n` };
    },
    async apply(r, _changes, ctx) {
      events.push(`apply ${r.id}`);
      if (ctx.noop) throw new Error("apply called in noop");
      if (r.params.fail === "apply") throw new Error("disk on fire");
      if (r.params.fail === "stuck") return undefined;
      if (r.params.fail === "hang") await new Promise(() => {});
      writeFileSync(path(r), String(r.params.content ?? ""));
      return { output: `wrote ${r.name}` };
    },
    async refresh(r) {
      events.push(`refresh ${r.id}`);
      if (r.params.fail === "refresh") throw new Error("restart failed");
      writeFileSync(`${path(r)}.refreshed`, "x\n", { flag: "a" });
      return undefined;
    },
  };
}

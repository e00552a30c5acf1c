/**
 * Catalogs built straight as data, so engine and CLI tests need no compiler: `resource()` makes a
 * CatalogResource with its digest (sha256 of the canonical type, name and params, as the compiler
 * computes it) and `catalog()` wraps resources, in the order given, with their inline files.
 */
import { createHash } from "node:crypto";
import type { Catalog, CatalogFile, CatalogResource, Json, ResourceType } from "../../core/types.js";

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

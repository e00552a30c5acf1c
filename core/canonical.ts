/**
 * Canonical JSON: object keys sorted, no whitespace. Same value, same bytes — what signatures,
 * digests and the determinism of catalogs rest on.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v === undefined) continue;
      // defineProperty for "__proto__": assigned, it would become the object's prototype and
      // vanish from the output; it must be kept (and signed) like any other key. Every other key
      // is assigned, which keeps the object fast (a digest per resource goes through here).
      if (key === "__proto__")
        Object.defineProperty(out, key, {
          value: sortKeys(v),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      else out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

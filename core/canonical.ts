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
    // defineProperty, not assignment: a "__proto__" key must be kept (and signed) like any other,
    // not turn into the object's prototype and vanish from the output.
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined)
        Object.defineProperty(out, key, {
          value: sortKeys(v),
          enumerable: true,
          writable: true,
          configurable: true,
        });
    }
    return out;
  }
  return value;
}

/**
 * Checking a catalog envelope `{catalog, serial, signature, key_id}`: the Ed25519 signature over
 * canonicalJson({catalog, serial}) against the pinned key, the node's name, and the catalog's
 * shape (schemas/catalog.schema.json). A fresh and a cached catalog go through the same check.
 */
import { createPublicKey, verify } from "node:crypto";
import { canonicalJson } from "../../core/canonical.js";
import { formatProblem, TendError } from "../../core/errors.js";
import { schemaProblems } from "../../core/schema.js";
import type { Catalog } from "../../core/types.js";

export interface Envelope {
  catalog: Catalog;
  serial: number;
  signature: string;
  key_id: string;
}

export function verifyEnvelope(data: unknown, pinnedPem: string, node: string, what: string): Envelope {
  const e = data as Partial<Envelope> | null;
  if (
    !e ||
    typeof e !== "object" ||
    typeof e.signature !== "string" ||
    !Number.isSafeInteger(e.serial) ||
    typeof e.catalog !== "object" ||
    e.catalog === null
  ) {
    throw new TendError("TEND_E_CATALOG_SIGNATURE", `${what} is not a signed catalog envelope; refused`);
  }
  const signed = Buffer.from(canonicalJson({ catalog: e.catalog, serial: e.serial }));
  let ok = false;
  try {
    ok = verify(null, signed, createPublicKey(pinnedPem), Buffer.from(e.signature, "base64"));
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new TendError(
      "TEND_E_CATALOG_SIGNATURE",
      `${what} does not verify against the server key pinned at enrolment; refused (if the server's key really changed, enrol again)`,
    );
  }
  const problems = schemaProblems("catalog", e.catalog);
  if (problems.length > 0) {
    throw new TendError(
      "TEND_E_CATALOG",
      `${what} is signed but not a valid catalog: ${problems.slice(0, 3).map(formatProblem).join("; ")}`,
    );
  }
  if (e.catalog.node !== node) {
    throw new TendError("TEND_E_CATALOG", `${what} is for node ${e.catalog.node}, not ${node}; refused`);
  }
  return e as Envelope;
}

/**
 * Secrets and names: enrolment tokens, admin tokens and node credentials are 256-bit random
 * strings with a prefix that says what they are; only their sha256 is stored. Node names follow
 * TRUST A4.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import { sha256 } from "../core/hash.js";

export type SecretKind = "enroll" | "admin" | "node";
const prefixes: Record<SecretKind, string> = { enroll: "tend_enr_", admin: "tend_adm_", node: "tend_node_" };

export function newSecret(kind: SecretKind): string {
  return prefixes[kind] + randomBytes(32).toString("base64url");
}

export function hashSecret(secret: string): string {
  return sha256(secret);
}

/** The reason a node name is refused, or null when it is valid. */
export function nodeNameProblem(name: string): string | null {
  if (name.length > 253) return "is longer than 253 characters";
  if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(name)) {
    return "must be lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit";
  }
  if (name.includes("..")) return "must not contain `..`";
  if (isIP(name) !== 0 || /^[0-9.]+$/.test(name)) return "must not be an IP address";
  return null;
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Account passwords, hashed with scrypt (memory-hard: an attacker with the database pays 32 MiB
 * and tens of milliseconds per guess). Stored as `scrypt$N$r$p$salt$hash` (base64url), so the cost
 * can be raised later without breaking the hashes already stored. Checking an unknown account
 * costs the same as a known one (a fixed dummy hash is checked), and the comparison is
 * constant-time, so neither the answer nor its timing says which names exist.
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

/** N = 2^15, r = 8, p = 1: 32 MiB per hash (128·N·r bytes); OWASP's minimum is N = 2^17 at 128 MiB. */
export const kdf = { N: 2 ** 15, r: 8, p: 1, keyLen: 32, saltLen: 16 } as const;
/** Node refuses more than 32 MiB by default; a stored hash may ask for up to 64 MiB (checked below). */
const maxmem = 128 * 1024 * 1024;
/** A password longer than this is refused outright (scrypt would hash it, but nobody types 1 KiB). */
export const maxPasswordLength = 1024;
export const minPasswordLength = 12;

function derive(password: string, salt: Buffer, N: number, r: number, p: number, len: number) {
  return new Promise<Buffer>((resolve, reject) =>
    scrypt(password, salt, len, { N, r, p, maxmem }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** Why `password` cannot be an account's password, or null. */
export function passwordProblem(password: string): string | null {
  if (password.length < minPasswordLength) return `is shorter than ${minPasswordLength} characters`;
  if (password.length > maxPasswordLength) return `is longer than ${maxPasswordLength} characters`;
  return null;
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(kdf.saltLen);
  const key = await derive(password, salt, kdf.N, kdf.r, kdf.p, kdf.keyLen);
  return ["scrypt", kdf.N, kdf.r, kdf.p, salt.toString("base64url"), key.toString("base64url")].join("$");
}

/** A valid hash of a password nobody knows: what an unknown account is checked against. */
let dummy: Promise<string> | undefined;

/**
 * Whether `password` matches `stored` (a hash from `hashPassword`); undefined `stored` (no such
 * account) does the same work and answers false. A malformed stored hash answers false.
 */
export async function verifyPassword(stored: string | undefined, password: string): Promise<boolean> {
  dummy ??= hashPassword(randomBytes(32).toString("base64url"));
  const against = stored ?? (await dummy);
  const parts = against.split("$");
  const [scheme, n, r, p, salt, hash] = parts;
  const N = Number(n);
  const ok =
    parts.length === 6 &&
    scheme === "scrypt" &&
    [N, Number(r), Number(p)].every((x) => Number.isInteger(x) && x > 0) &&
    128 * N * Number(r) <= maxmem / 2 &&
    Number(p) <= 16;
  if (!ok || password.length > maxPasswordLength) {
    // Still do one derivation, so a refusal takes as long as a check.
    await derive(
      password.slice(0, maxPasswordLength),
      Buffer.alloc(kdf.saltLen),
      kdf.N,
      kdf.r,
      kdf.p,
      kdf.keyLen,
    );
    return false;
  }
  const expected = Buffer.from(String(hash), "base64url");
  const got = await derive(
    password,
    Buffer.from(String(salt), "base64url"),
    N,
    Number(r),
    Number(p),
    expected.length || kdf.keyLen,
  );
  return stored !== undefined && expected.length === got.length && timingSafeEqual(expected, got);
}

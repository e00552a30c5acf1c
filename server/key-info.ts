/**
 * The server's signing key as an admin reads it, to pin it on agents out of band
 * (`tend agent enroll --server-key FINGERPRINT`, TRUST A9): for `tend server key` (admin/key.ts)
 * and the line the server prints when it starts. The fingerprint is `sha256:` and the hex sha256
 * of the public key's SPKI DER (the key_id is its first 16 digits).
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { TendError } from "../core/errors.js";
import { sha256 } from "../core/hash.js";
import { fromPrivateKey, type SigningKey } from "./signing.js";

export function keyFingerprint(publicKeyPem: string): string {
  return `sha256:${sha256(createPublicKey(publicKeyPem).export({ type: "spki", format: "der" }))}`;
}

/** One line for the start log: key id, fingerprint, and how an agent pins it. */
export function keyLine(key: SigningKey): string {
  const fp = keyFingerprint(key.publicKeyPem);
  return `tend server: signing key ${key.keyId}, fingerprint ${fp} (agents pin it with: tend agent enroll --server-key ${fp})\n`;
}

/** The signing key in `dataDir`, without creating one. */
export function readSigningKey(dataDir: string): SigningKey {
  const file = join(dataDir, "signing-key.pem");
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new TendError(
        "TEND_E_CONFIG",
        `there is no signing key in ${dataDir} yet: the server makes it when it first starts`,
      );
    }
    throw err;
  }
  return fromPrivateKey(createPrivateKey(pem));
}

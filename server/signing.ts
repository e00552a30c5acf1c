/**
 * The server's Ed25519 signing key: generated into data_dir (mode 0600) on first start. A catalog
 * envelope is `{catalog, serial, signature, key_id}` where `signature` is the base64 Ed25519
 * signature of `canonicalJson({catalog, serial})`; agents pin `public_key` at enrolment.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { canonicalJson } from "../core/canonical.js";
import { sha256 } from "../core/hash.js";
import type { Catalog } from "../core/types.js";

export interface SigningKey {
  keyId: string;
  /** SPKI PEM: what agents pin. */
  publicKeyPem: string;
  sign(data: string): string;
}

export interface CatalogEnvelope {
  catalog: Catalog;
  serial: number;
  signature: string;
  key_id: string;
}

export function fromPrivateKey(privateKey: KeyObject): SigningKey {
  const publicKey = createPublicKey(privateKey);
  const der = publicKey.export({ type: "spki", format: "der" });
  return {
    keyId: sha256(der).slice(0, 16),
    publicKeyPem: String(publicKey.export({ type: "spki", format: "pem" })),
    sign: (data) => sign(null, Buffer.from(data), privateKey).toString("base64"),
  };
}

/** Loads `data_dir/signing-key.pem`, creating it (0600, exclusively) when missing. */
export function loadSigningKey(dataDir: string): SigningKey {
  const file = join(dataDir, "signing-key.pem");
  if (!existsSync(file)) {
    const { privateKey } = generateKeyPairSync("ed25519");
    try {
      writeFileSync(file, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  return fromPrivateKey(createPrivateKey(readFileSync(file)));
}

export function signCatalog(key: SigningKey, catalog: Catalog, serial: number): CatalogEnvelope {
  return { catalog, serial, signature: key.sign(canonicalJson({ catalog, serial })), key_id: key.keyId };
}

/**
 * The server's signing key as an admin reads it, to pin it on agents out of band
 * (`tend agent enroll --server-key FINGERPRINT`, TRUST A9): `tend server key [--config FILE]`
 * and the line the server prints when it starts. The fingerprint is `sha256:` and the hex sha256
 * of the public key's SPKI DER (the key_id is its first 16 digits).
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { TendError } from "../core/errors.js";
import { sha256 } from "../core/hash.js";
import { loadConfig } from "./config.js";
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

/** `tend server key [--config FILE] [--pem]`: the fingerprint (and key id), or the public key PEM. */
export function keyCommand(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
): number {
  let values: { config?: string; pem?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { config: { type: "string" }, pem: { type: "boolean" }, help: { type: "boolean" } },
    }));
  } catch (err) {
    throw new TendError(
      "TEND_E_USAGE",
      `${(err as Error).message}\nusage: tend server key [--pem] [--config FILE]`,
    );
  }
  if (values.help) {
    out("usage: tend server key [--pem] [--config FILE]\n");
    return 0;
  }
  const key = readSigningKey(loadConfig(values.config).dataDir);
  if (values.pem) out(key.publicKeyPem);
  else out(`${keyFingerprint(key.publicKeyPem)}\nkey_id ${key.keyId}\n`);
  return 0;
}

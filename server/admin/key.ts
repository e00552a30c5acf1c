/** The admin command that prints the signing key, which agents pin out of band (TRUST A9). */
import { parseArgs } from "node:util";
import { TendError } from "../../core/errors.js";
import { loadConfig } from "../config.js";
import { keyFingerprint, readSigningKey } from "../key-info.js";

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

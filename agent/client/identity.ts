/**
 * What enrolment leaves in state_dir: the node's credential and the server key it pinned, in
 * `identity.json` (0600, directory 0700). Checked on every load; the credential is never printed.
 */
import { createPublicKey } from "node:crypto";
import { chmod, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { TendError } from "../../core/errors.js";
import { sha256 } from "../../core/hash.js";
import { atomicWrite } from "../sys/atomic-write.js";

export const IDENTITY_FILE = "identity.json";

export interface Identity {
  format: 1;
  server: string;
  node: string;
  credential: string;
  /** The server's Ed25519 public key (SPKI PEM), pinned at enrolment. */
  server_key: string;
  key_id: string;
  enrolled_at: string;
}

/** key_id as the server computes it: the first 16 hex digits of sha256 of the SPKI DER. */
export function keyIdOf(pem: string): string {
  const der = createPublicKey(pem).export({ type: "spki", format: "der" });
  return sha256(der).slice(0, 16);
}

/** The key's fingerprint as an admin compares it: `sha256:` and the hex sha256 of its SPKI DER. */
export function keyFingerprint(pem: string): string {
  return `sha256:${sha256(createPublicKey(pem).export({ type: "spki", format: "der" }))}`;
}

/**
 * An expected server key given out of band (`--server-key`): a fingerprint (`sha256:` and 64 hex
 * digits, the prefix optional), a public key PEM, or a file holding one. Returns its fingerprint.
 */
export async function expectedFingerprint(value: string): Promise<string> {
  const text = value.trim();
  const hex = /^(?:sha256:)?([0-9a-fA-F]{64})$/.exec(text);
  if (hex) return `sha256:${hex[1]!.toLowerCase()}`;
  if (/^(?:sha256:)?[0-9a-fA-F]{8,63}$/.test(text)) {
    throw new TendError(
      "TEND_E_USAGE",
      `--server-key "${text}" is too short: give the whole fingerprint (sha256: and 64 hex digits, as \`tend server key\` prints it) or the key's PEM file, not a key id`,
    );
  }
  let pem = text;
  if (!text.startsWith("-----BEGIN")) {
    try {
      pem = await readFile(text, "utf8");
    } catch {
      throw new TendError(
        "TEND_E_USAGE",
        `--server-key takes the server key's fingerprint (sha256:…, 64 hex digits), its PEM, or a PEM file; "${text}" is none of these`,
      );
    }
  }
  try {
    return keyFingerprint(pem);
  } catch {
    throw new TendError("TEND_E_USAGE", `--server-key: "${text}" does not hold a public key PEM`);
  }
}

/** state_dir with mode 0700, created when missing, tightened when looser. */
export async function ensureStateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/** Writes `data` to `path` atomically with mode 0600. */
export async function writePrivate(path: string, data: string | Buffer): Promise<void> {
  await atomicWrite(path, typeof data === "string" ? Buffer.from(data) : data, { mode: 0o600 });
}

export async function saveIdentity(stateDir: string, id: Identity): Promise<void> {
  await ensureStateDir(stateDir);
  await writePrivate(join(stateDir, IDENTITY_FILE), `${JSON.stringify(id, null, 2)}\n`);
}

export async function loadIdentity(stateDir: string): Promise<Identity | null> {
  let text: string;
  try {
    text = await readFile(join(stateDir, IDENTITY_FILE), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  const id = JSON.parse(text) as Partial<Identity>;
  if (
    id.format !== 1 ||
    typeof id.server !== "string" ||
    typeof id.node !== "string" ||
    typeof id.credential !== "string" ||
    typeof id.server_key !== "string" ||
    typeof id.key_id !== "string"
  ) {
    throw new TendError(
      "TEND_E_AGENT_ENROLL",
      `${join(stateDir, IDENTITY_FILE)} is damaged; enrol again with \`tend agent enroll --force\``,
    );
  }
  return id as Identity;
}

/** The identity, or a sentence saying how to enrol. */
export async function requireIdentity(stateDir: string): Promise<Identity> {
  const id = await loadIdentity(stateDir);
  if (!id) {
    throw new TendError(
      "TEND_E_AGENT_ENROLL",
      `this agent is not enrolled (no ${IDENTITY_FILE} in ${stateDir}); run \`tend agent enroll --server URL --token TOKEN\``,
    );
  }
  return id;
}

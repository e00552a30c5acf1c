/**
 * OpenPGP public keys, only as far as pinning them needs: the fingerprints of the primary keys in a
 * key file (ASCII-armored or binary), computed as RFC 4880 / RFC 9580 define them — SHA-1 over
 * 0x99 ‖ 2-byte length ‖ key packet body for v4 keys, SHA-256 over 0x9A / 0x9B ‖ 4-byte length ‖ body
 * for v5 / v6 keys. No signature is verified here (apt's verifier does that with the key); this only
 * says which keys a file holds. Pure, so `tend validate` checks pins as the agent does.
 */
import { createHash } from "node:crypto";

const ARMOR_BEGIN = "-----BEGIN PGP PUBLIC KEY BLOCK-----";

export class KeyFileError extends Error {}

/** Whether the bytes are ASCII armor (apt wants such a file named .asc, a binary one .gpg). */
export function isArmored(data: Uint8Array): boolean {
  return Buffer.from(data.subarray(0, 1024)).toString("latin1").includes(ARMOR_BEGIN);
}

/** The binary packets of every armored public key block in `text`. */
function dearmor(text: string): Buffer {
  const out: Buffer[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== ARMOR_BEGIN) continue;
    i++;
    while (i < lines.length && lines[i]!.trim() !== "") i++; // armor headers, up to a blank line
    const body: string[] = [];
    for (i++; i < lines.length; i++) {
      const l = lines[i]!.trim();
      if (l.startsWith("=") || l.startsWith("-----END")) break; // the CRC line, or the end
      body.push(l);
    }
    out.push(Buffer.from(body.join(""), "base64"));
  }
  if (!out.length) throw new KeyFileError(`no "${ARMOR_BEGIN}" block`);
  return Buffer.concat(out);
}

interface Packet {
  tag: number;
  body: Buffer;
}

function packets(data: Buffer): Packet[] {
  const out: Packet[] = [];
  let at = 0;
  const need = (n: number) => {
    if (at + n > data.length) throw new KeyFileError("the key data is truncated");
  };
  while (at < data.length) {
    const b = data[at++]!;
    if ((b & 0x80) === 0) throw new KeyFileError("this is not OpenPGP key data");
    let tag: number;
    let len: number;
    if (b & 0x40) {
      tag = b & 0x3f;
      need(1);
      const o = data[at++]!;
      if (o < 192) len = o;
      else if (o < 224) {
        need(1);
        len = ((o - 192) << 8) + data[at++]! + 192;
      } else if (o === 255) {
        need(4);
        len = data.readUInt32BE(at);
        at += 4;
      } else throw new KeyFileError("partial-length packets do not belong in a key file");
    } else {
      tag = (b >> 2) & 0x0f;
      const type = b & 3;
      const size = [1, 2, 4][type];
      if (size === undefined) len = data.length - at;
      else {
        need(size);
        len = size === 1 ? data[at]! : size === 2 ? data.readUInt16BE(at) : data.readUInt32BE(at);
        at += size;
      }
    }
    need(len);
    out.push({ tag, body: data.subarray(at, at + len) });
    at += len;
  }
  return out;
}

function fingerprint(body: Buffer): string {
  const version = body[0];
  if (version === 4) {
    const head = Buffer.from([0x99, (body.length >> 8) & 0xff, body.length & 0xff]);
    return createHash("sha1").update(head).update(body).digest("hex").toUpperCase();
  }
  if (version === 5 || version === 6) {
    const head = Buffer.alloc(5);
    head[0] = version === 5 ? 0x9a : 0x9b;
    head.writeUInt32BE(body.length, 1);
    return createHash("sha256").update(head).update(body).digest("hex").toUpperCase();
  }
  throw new KeyFileError(`a version ${version} key is not supported (only v4, v5 and v6 keys)`);
}

/** The fingerprints of the primary public keys in a key file, upper-case hex, in file order. */
export function primaryFingerprints(data: Uint8Array): string[] {
  const bin = isArmored(data) ? dearmor(Buffer.from(data).toString("latin1")) : Buffer.from(data);
  const found: string[] = [];
  for (const p of packets(bin)) {
    if (p.tag === 5 || p.tag === 7) throw new KeyFileError("it holds a SECRET key; give the public key only");
    if (p.tag === 6) found.push(fingerprint(p.body));
  }
  if (!found.length) throw new KeyFileError("it holds no public key");
  return found;
}

/** "ABCD 1234 …" or "0xabcd1234…" as upper-case hex without blanks. */
export function normalFingerprint(pin: string): string {
  return pin.replace(/\s+/g, "").replace(/^0x/i, "").toUpperCase();
}

/**
 * Why `data` does not match the pins, or null when every primary key in it is pinned and every
 * pin is in it (a key file with one more key than pinned would make apt trust that key too).
 */
export function pinProblem(data: Uint8Array, pins: string | readonly string[]): string | null {
  let have: string[];
  try {
    have = primaryFingerprints(data);
  } catch (err) {
    return `the key is not a usable OpenPGP public key: ${(err as Error).message}`;
  }
  return pinMismatch(have, pins);
}

/** pinProblem for fingerprints already computed. */
export function pinMismatch(have: readonly string[], pins: string | readonly string[]): string | null {
  const want = normalPins(pins);
  const unpinned = have.filter((f) => !want.includes(f));
  const absent = want.filter((f) => !have.includes(f));
  if (!unpinned.length && !absent.length) return null;
  const parts: string[] = [];
  if (absent.length) parts.push(`it does not hold ${absent.join(", ")}`);
  if (unpinned.length) parts.push(`it holds ${unpinned.join(", ")}, which is not pinned`);
  return `the key does not match its fingerprint pin: ${parts.join("; ")}`;
}

/** Pins as a sorted list of normal fingerprints. */
export function normalPins(pins: string | readonly string[]): string[] {
  return (typeof pins === "string" ? [pins] : [...pins]).map(normalFingerprint).sort();
}

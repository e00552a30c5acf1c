/**
 * authorized_keys lines for the authorized_key kind, as sshd(8) reads them: `[options] TYPE BASE64
 * [comment]`, where options end at the first blank outside double quotes. A key is known by its type
 * and blob; options and comment may change around it. Pure: no file access here.
 */

export const KEY_TYPES = [
  "ssh-ed25519",
  "ssh-rsa",
  "ssh-dss",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
] as const;

/** The `key` attribute: type, base64 blob, optional comment. */
export const KEY_PATTERN = `^(${KEY_TYPES.map((k) => k.replaceAll(".", "\\.")).join("|")})[ \\t]+[A-Za-z0-9+/]+={0,3}([ \\t]+[^\\n]*)?$`;

export interface KeyLine {
  options: string;
  type: string;
  blob: string;
  comment: string;
}

/** `type blob`: what identifies a key whatever its options and comment. */
export const identity = (k: { type: string; blob: string }) => `${k.type} ${k.blob}`;

/** Where the options at the start of `line` end (first blank outside double quotes). */
function optionsEnd(line: string): number {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "\\" && quoted) i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && (c === " " || c === "\t")) return i;
  }
  return line.length;
}

/** A key line, or null for a comment, a blank line or something sshd would not take as a key. */
export function parseLine(line: string): KeyLine | null {
  const text = line.trim();
  if (text === "" || text.startsWith("#")) return null;
  let options = "";
  let rest = text;
  const first = text.split(/[ \t]/, 1)[0]!;
  if (!(KEY_TYPES as readonly string[]).includes(first)) {
    const end = optionsEnd(text);
    options = text.slice(0, end);
    rest = text.slice(end).trim();
  }
  const [type, blob, ...comment] = rest.split(/[ \t]+/);
  if (!type || !blob || !(KEY_TYPES as readonly string[]).includes(type)) return null;
  return { options, type, blob, comment: comment.join(" ") };
}

/** The line for a key with options (joined with commas), as sshd reads it. */
export function formatLine(k: KeyLine): string {
  return [k.options, k.type, k.blob, k.comment].filter((s) => s !== "").join(" ");
}

/**
 * Why a `key` attribute is not a public key, or null: the blob must decode to a key of the type it
 * is labelled with (a key pasted with a wrong prefix, or truncated, is caught here).
 */
export function keyProblem(k: KeyLine): string | null {
  const bytes = Buffer.from(k.blob, "base64");
  if (bytes.length < 4) return "its base64 part is too short to be a key";
  const n = bytes.readUInt32BE(0);
  const inner = bytes.subarray(4, 4 + n).toString("latin1");
  if (4 + n > bytes.length || inner !== k.type)
    return `its base64 part is not a ${k.type} key${inner && 4 + n <= bytes.length ? ` (it holds a ${inner} key)` : " (truncated?)"}`;
  return null;
}

/** A short name for a key in a report: type, the blob's last characters, comment. */
export function shortName(k: KeyLine): string {
  return [k.type, `…${k.blob.slice(-12)}`, k.comment].filter(Boolean).join(" ");
}

/**
 * `authorized_key`: one SSH public key in a user's ~/.ssh/authorized_keys, with the modes and owner
 * sshd's StrictModes wants (.ssh 0700, the file 0600, both the user's). Other keys are left alone
 * unless `exclusive`, which keeps only the keys the catalog declares for that user (prefetch
 * gathers them). The home belongs to the user, so nothing is written through a link they planted.
 * A user's file is read and parsed once for all of their keys in a run, while the run has changed
 * nothing since.
 */
import { constants, promises as fsp, lstatSync, type Stats } from "node:fs";
import { TendError } from "../../core/errors.js";
import type { KindSpec } from "../../core/kind-spec.js";
import type { CatalogResource, Change } from "../../core/types.js";
import { BackupStore } from "../store/file-backups.js";
import { Accounts, type PasswdEntry } from "../sys/accounts.js";
import { atomicWrite, checkParents } from "../sys/atomic-write.js";
import { contentDiff, modeString } from "./file-content.js";
import {
  accountName,
  type CheckResult,
  changesStarted,
  type Kind,
  type KindContext,
  presence,
} from "./kind.js";
import { type Live, readOwned } from "./owned-file.js";
import {
  formatLine,
  identity,
  KEY_PATTERN,
  type KeyLine,
  keyProblem,
  parseLine,
  shortName,
} from "./ssh-keys.js";

export interface AuthorizedKeyParams {
  ensure: "present" | "absent";
  user: string;
  key: string;
  options?: string[];
  exclusive?: boolean;
}

export const spec: KindSpec = {
  type: "authorized_key",
  description: "An SSH public key that may log in as a user: one line of ~USER/.ssh/authorized_keys.",
  notes: `A key is known by its type and base64 part: a line with the same key but other options or
comment is rewritten in place, and copies of it further down are removed (sshd would try them too).
Other keys, comments and blank lines are left alone unless \`exclusive: true\`, which removes every key
of that user not declared by an authorized_key resource of the catalog. \`~/.ssh\` is made 0700 and
the file 0600, both owned by the user and their primary group (sshd's StrictModes refuses looser
ones); they are created when missing, but the home directory must exist (\`manage_home: true\` on the
user). A link planted in the user's home is refused, never followed. Writes are atomic and the
replaced content goes to the backup store. A key comes after its user.`,
  name: {
    title: "Title",
    description: 'A free title, unique among authorized keys, e.g. "alice@deploy".',
    type: "string",
    minLength: 1,
  },
  attributes: {
    ensure: presence,
    user: accountName("User", "The user the key logs in as.", "deploy"),
    key: {
      title: "Key",
      description: 'The public key as ssh-keygen writes it: "ssh-ed25519 AAAA... comment".',
      type: "string",
      pattern: KEY_PATTERN,
      "x-hint": 'a public key line such as "ssh-ed25519 AAAAC3Nza... alice@laptop"',
    },
    options: {
      title: "Options",
      description:
        'sshd options for this key (authorized_keys(5)), e.g. ["from=\\"10.0.0.0/8\\"", "no-port-forwarding"].',
      type: "array",
      items: { type: "string", pattern: "^[^\\s,][^\\n,]*$" },
    },
    exclusive: {
      title: "Exclusive",
      description:
        "Remove every other key of this user that no authorized_key resource of the catalog declares. Default false.",
      type: "boolean",
    },
  },
  required: ["ensure"],
  mandatory: ["user", "key"],
  edges: [{ after: "user", param: "user" }],
};

const paramsOf = (r: CatalogResource) => r.params as unknown as AuthorizedKeyParams;

/** The wanted line, from `key` (`parsed` already) and `options`; a key whose blob is not of its type is refused. */
function wantedKey(r: CatalogResource, parsed?: KeyLine | null): KeyLine {
  const p = paramsOf(r);
  const k = parsed === undefined ? parseLine(p.key) : parsed;
  const problem = k ? keyProblem(k) : "it is not a public key line";
  if (!k || problem) throw new TendError("TEND_E_SSH_KEY", `${r.id}: the key is not usable: ${problem}.`);
  return { ...k, options: (p.options ?? []).join(",") };
}

/** The file's new text and what changed, for one key. Pure. `keep`: the identities to keep when exclusive. */
export function editKeys(
  text: string,
  want: KeyLine,
  ensure: "present" | "absent",
  keep: ReadonlySet<string> | null,
): { text: string; changes: Change[] } {
  const lines = splitLines(text);
  return editLines(lines, lines.map(parseLine), want, ensure, keep);
}

const splitLines = (text: string) => (text === "" ? [] : text.replace(/\n$/, "").split("\n"));

/** editKeys on the file's lines, each parsed already (`keys[i]`: `lines[i]` as a key, or null). */
function editLines(
  lines: readonly string[],
  keys: readonly (KeyLine | null)[],
  want: KeyLine,
  ensure: "present" | "absent",
  keep: ReadonlySet<string> | null,
): { text: string; changes: Change[] } {
  const id = identity(want);
  const changes: Change[] = [];
  const out: string[] = [];
  const others: string[] = [];
  let found: KeyLine | null = null;
  let copies = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const k = keys[i] ?? null;
    if (!k || identity(k) !== id) {
      if (k && keep && !keep.has(identity(k))) others.push(shortName(k));
      else out.push(line);
      continue;
    }
    if (ensure === "absent" || found) copies++;
    else {
      found = k;
      out.push(formatLine(want));
    }
  }
  if (ensure === "absent") {
    if (copies) changes.push({ property: "ensure", from: "present", to: "absent" });
  } else if (!found) {
    out.push(formatLine(want));
    changes.push({ property: "ensure", from: "absent", to: "present" });
  } else {
    if (found.options !== want.options)
      changes.push({ property: "options", from: found.options, to: want.options });
    if (found.comment !== want.comment)
      changes.push({ property: "comment", from: found.comment, to: want.comment });
    if (copies) changes.push({ property: "copies", from: copies + 1, to: 1 });
  }
  if (others.length) changes.push({ property: "other keys", from: others, to: [] });
  return { text: out.length ? `${out.join("\n")}\n` : "", changes };
}

interface Prefetched {
  accounts: Accounts;
  /** Per user, the identities of the keys the catalog wants present. */
  declared: Map<string, Set<string>>;
  /** Per resource id, its `key` parsed (null: not a key line; wantedKey says why). */
  parsed: Map<string, KeyLine | null>;
  /** Per user, their authorized_keys as the check of one of their keys read it (see userFile). */
  files: Map<string, UserFile>;
}

async function prefetch(resources: CatalogResource[]): Promise<Prefetched> {
  const declared = new Map<string, Set<string>>();
  const parsed = new Map<string, KeyLine | null>();
  for (const r of resources) {
    if (r.type !== "authorized_key") continue;
    const k = parseLine(paramsOf(r).key);
    parsed.set(r.id, k);
    if (!k || paramsOf(r).ensure === "absent") continue;
    const set = declared.get(paramsOf(r).user) ?? new Set();
    set.add(identity(k));
    declared.set(paramsOf(r).user, set);
  }
  return { accounts: new Accounts(), declared, parsed, files: new Map() };
}

interface Place {
  user: PasswdEntry;
  dir: string;
  path: string;
  /** lstat of ~/.ssh, undefined when there is none. */
  dirSt: Stats | undefined;
}

function placeOf(r: CatalogResource, accounts: Accounts): Place {
  const p = paramsOf(r);
  const user = accounts.user(p.user);
  if (!user)
    throw new TendError("TEND_E_UNKNOWN_OWNER", `${r.id}: user "${p.user}" is not a user on this box.`);
  const dir = `${user.home.replace(/\/$/, "")}/.ssh`;
  const dirSt = lstatSync(dir, { throwIfNoEntry: false });
  if (dirSt?.isSymbolicLink())
    throw new TendError(
      "TEND_E_FILE_SYMLINK",
      `${r.id}: ${dir} is a symbolic link; tend does not write keys through a link in a user's home. Remove it.`,
    );
  if (dirSt && !dirSt.isDirectory())
    throw new TendError("TEND_E_FILE_TYPE", `${r.id}: ${dir} is not a directory. Remove it.`);
  if (!dirSt && !lstatSync(user.home, { throwIfNoEntry: false })?.isDirectory())
    throw new TendError(
      "TEND_E_SSH_NO_HOME",
      `${r.id}: ${p.user}'s home ${user.home} is not a directory; create it (manage_home: true on user:${p.user}).`,
    );
  return { user, dir, path: `${dir}/authorized_keys`, dirSt };
}

/** A user without an account or a home has no keys to remove. */
function hasHome(p: AuthorizedKeyParams, accounts: Accounts): boolean {
  const user = accounts.user(p.user);
  return !!user && !!lstatSync(user.home, { throwIfNoEntry: false })?.isDirectory();
}

function metaChanges(what: string, st: Stats, mode: number, u: PasswdEntry): Change[] {
  const changes: Change[] = [];
  if ((st.mode & 0o7777) !== mode)
    changes.push({ property: `${what}mode`, from: modeString(st.mode), to: modeString(mode) });
  if (st.uid !== u.uid || st.gid !== u.gid)
    changes.push({ property: `${what}owner`, from: `${st.uid}:${st.gid}`, to: `${u.uid}:${u.gid}` });
  return changes;
}

/** A user's ~/.ssh and authorized_keys as read for a check: where, the file, its lines parsed. */
interface UserFile {
  /** changesStarted(run) when read: shared by the user's other keys only while it has not moved. */
  at: number;
  place: Place;
  live: Live | null;
  lines: string[];
  keys: (KeyLine | null)[];
}

/**
 * The user's file, read once for all of their keys in a run: the next key's check reuses it while
 * nothing in the run has changed anything since (an apply of one of their keys, or anything else,
 * makes the next check read it again).
 */
function userFile(r: CatalogResource, pre: Prefetched, run: KindContext["run"]): UserFile {
  const user = paramsOf(r).user;
  const at = changesStarted(run);
  const known = pre.files.get(user);
  if (known?.at === at) return known;
  const place = placeOf(r, pre.accounts);
  // readOwned refuses a link planted anywhere on the way to the file before reading it.
  const live = place.dirSt ? readOwned(r.id, place.path) : null;
  const lines = splitLines(live?.data.toString("utf8") ?? "");
  const read = { at, place, live, lines, keys: lines.map(parseLine) };
  pre.files.set(user, read);
  return read;
}

async function check(r: CatalogResource, ctx: KindContext): Promise<CheckResult> {
  const p = paramsOf(r);
  const pre = (ctx.prefetched as Prefetched | undefined) ?? (await prefetch([r]));
  const want = wantedKey(r, pre.parsed.get(r.id));
  if (p.ensure === "absent" && !hasHome(p, pre.accounts)) return { changes: [] };
  const { place, live, lines, keys } = userFile(r, pre, ctx.run);
  const dir = place.dirSt;
  const keep = p.exclusive ? (pre.declared.get(p.user) ?? new Set([identity(want)])) : null;
  const edit = editLines(lines, keys, want, p.ensure, keep);
  if (p.ensure === "absent")
    return { changes: edit.changes, diff: await diffOf(place.path, live?.data, edit) };
  const changes: Change[] = [];
  if (!dir) changes.push({ property: ".ssh", from: "absent", to: "directory" });
  else changes.push(...metaChanges(".ssh ", dir, 0o700, place.user));
  changes.push(...edit.changes);
  if (live) changes.push(...metaChanges("", live.st, 0o600, place.user));
  return { changes, diff: await diffOf(place.path, live?.data, edit) };
}

async function diffOf(path: string, before: Buffer | undefined, edit: { text: string; changes: Change[] }) {
  if (!edit.changes.length) return null;
  return contentDiff(path, before ?? null, Buffer.from(edit.text));
}

/** Owner and mode set through a descriptor that refuses a link swapped in since the check. */
async function own(path: string, flags: number, mode: number, u: PasswdEntry): Promise<void> {
  const h = await fsp.open(path, constants.O_RDONLY | constants.O_NOFOLLOW | flags);
  try {
    await h.chown(u.uid, u.gid);
    await h.chmod(mode);
  } finally {
    await h.close();
  }
}

async function apply(r: CatalogResource, _changes: Change[], ctx: KindContext): Promise<undefined> {
  const p = paramsOf(r);
  const pre = (ctx.prefetched as Prefetched | undefined) ?? (await prefetch([r]));
  const want = wantedKey(r);
  if (p.ensure === "absent" && !hasHome(p, pre.accounts)) return;
  const place = placeOf(r, pre.accounts);
  // Before anything is made or chowned: no link the user planted on the way to it.
  checkParents(place.path, false);
  if (!place.dirSt) {
    if (p.ensure === "absent") return;
    await fsp.mkdir(place.dir, { mode: 0o700 });
  }
  if (p.ensure === "present") await own(place.dir, constants.O_DIRECTORY, 0o700, place.user);
  const live = readOwned(r.id, place.path);
  const keep = p.exclusive ? (pre.declared.get(p.user) ?? new Set([identity(want)])) : null;
  const edit = editKeys(live?.data.toString("utf8") ?? "", want, p.ensure, keep);
  if (edit.changes.length) {
    if (live) await new BackupStore(ctx.stateDir).save(place.path, live.data, live.st);
    const ids = { uid: place.user.uid, gid: place.user.gid };
    await atomicWrite(place.path, Buffer.from(edit.text), { mode: 0o600, ...ids });
  } else if (live && p.ensure === "present") await own(place.path, constants.O_NONBLOCK, 0o600, place.user);
}

export const authorizedKey: Kind = { type: "authorized_key", spec, prefetch, check, apply };

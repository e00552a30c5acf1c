/**
 * `apt_repository`: a deb822 sources file /etc/apt/sources.list.d/NAME.sources and the key it is
 * signed by, /etc/apt/keyrings/NAME.asc (armored) or .gpg (binary), pinned by fingerprint
 * (core/openpgp.ts). `apt-get update` runs for this file alone (agent/sys/apt-sources.ts), only when
 * the file, the key or apt's lists for it are not as wanted; which lists apt fetched is recorded in
 * the state dir, so the no-op check is a few reads and stats and never runs apt.
 */
import { hash } from "node:crypto";
import { lstatSync } from "node:fs";
import { basename, dirname } from "node:path";
import { TendError } from "../../core/errors.js";
import type { KindSpec, Schema } from "../../core/kind-spec.js";
import { isArmored, normalPins, pinMismatch, primaryFingerprints } from "../../core/openpgp.js";
import type { CatalogResource, Change, Json } from "../../core/types.js";
import { indexFiles, updateSource } from "../sys/apt-sources.js";
import {
  type Fetched,
  filesUnchanged,
  forgetFetched,
  type Lists,
  listsThere,
  type Records,
  readFetched,
  readRecords,
  writeFetched,
} from "./apt-fetched.js";
import { sha256 } from "./file-content.js";
import { type CheckResult, changesStarted, type Kind, type KindContext, presence } from "./kind.js";
import {
  type Live,
  listOwned,
  type OwnedListing,
  ownedChanges,
  readOwned,
  removeOwned,
  writeOwned,
} from "./owned-file.js";
import { DEFAULT_LOCK_TIMEOUT_S } from "./package.js";

export interface AptRepositoryParams {
  ensure: "present" | "absent";
  types?: string[];
  uris?: string | string[];
  suites?: string | string[];
  components?: string | string[];
  architectures?: string | string[];
  key_sha256?: string;
  fingerprint?: string | string[];
}

export const SOURCES_DIR = "/etc/apt/sources.list.d";
export const KEYRINGS_DIR = "/etc/apt/keyrings";

/** A v4 (40 hex digits) or v5/v6 (64) fingerprint; blanks as gpg prints them. */
const FINGERPRINT = "^(0x)?([0-9A-Fa-f]\\s*){40}(([0-9A-Fa-f]\\s*){24})?$";

const words = (title: string, description: string, pattern = "^\\S+$"): Schema => ({
  title,
  description,
  type: ["string", "array"],
  pattern,
  items: { type: "string", pattern },
  minItems: 1,
});

export const spec: KindSpec = {
  type: "apt_repository",
  description:
    "An apt repository: a deb822 sources file in /etc/apt/sources.list.d and the OpenPGP key it is signed by, in /etc/apt/keyrings.",
  notes: `The sources file (\`NAME.sources\`) and the key (\`NAME.asc\` when armored, \`NAME.gpg\` when
binary) are tend's whole: root's, 0644, written atomically, replaced content kept in the backup store.
The key comes inline (\`key\`) or from a recipe file (\`key_source\`); \`fingerprint\` pins it: every
primary key in it must be pinned and every pin present, checked by \`tend validate\` and again by
the agent. Without a key the file has no Signed-By and apt trusts its usual keyrings (right for
Debian's own archives, such as backports). \`apt-get update\` runs for this repository alone, and only
when its file or key changed or apt has not fetched its lists (an update that failed is retried at
the next run); a failed update fails the resource with apt's words. Every \`package\` comes after
every apt_repository, so packages from it install in the same run (a repository therefore cannot
require a package). \`absent\` removes the file and the key; apt forgets the repository's packages
at once (its lists are left to apt's next full update).`,
  name: {
    title: "Name",
    description: "The file names: NAME.sources and the key's NAME.asc or NAME.gpg.",
    type: "string",
    pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]*$",
    "x-hint":
      'a name of letters, digits, ".", "_" and "-" such as "nodesource" (apt ignores other file names)',
  },
  attributes: {
    ensure: presence,
    types: {
      title: "Types",
      description: '`["deb"]` (the default), or with `"deb-src"` for source packages.',
      type: "array",
      items: { type: "string", enum: ["deb", "deb-src"] },
      minItems: 1,
    },
    uris: words("URIs", "The repository's URL(s).", "^[a-z][a-z0-9+.-]*:\\S+$"),
    suites: words(
      "Suites",
      'The suite(s) or codename(s), e.g. "bookworm"; a path ending in "/" for a flat repository.',
    ),
    components: words("Components", 'e.g. "main"; none for a flat repository.'),
    architectures: words("Architectures", "Only these architectures (default: the box's)."),
    key: {
      title: "Key",
      description: "The repository's OpenPGP public key, ASCII-armored.",
      type: "string",
      pattern: "-----BEGIN PGP PUBLIC KEY BLOCK-----",
      "x-hint": "an ASCII-armored public key (-----BEGIN PGP PUBLIC KEY BLOCK-----)",
    },
    key_source: {
      title: "Key file",
      description: "A file of the recipe holding the key, armored or binary (e.g. files/vendor.gpg).",
      type: "string",
      minLength: 1,
    },
    fingerprint: {
      title: "Fingerprint",
      description:
        "The key's full fingerprint (40 hex digits, blanks allowed, as gpg prints it), or a list when the file holds several keys.",
      type: ["string", "array"],
      pattern: FINGERPRINT,
      items: { type: "string", pattern: FINGERPRINT },
      "x-hint": 'a full fingerprint such as "A1B2 C3D4 ... (40 hex digits)" (short key ids are not safe)',
    },
  },
  required: ["ensure"],
  liquid: ["uris"],
  content: { param: "key_sha256", content: "key", source: "key_source", openpgp_fingerprint: "fingerprint" },
  rules: [
    { key: "uris", required_when: "ensure", is: "present" },
    { key: "suites", required_when: "ensure", is: "present" },
  ],
  edges: [{ before: "package" }],
};

const paramsOf = (r: CatalogResource) => r.params as unknown as AptRepositoryParams;
const list = (v: string | string[] | undefined) => (v === undefined ? [] : typeof v === "string" ? [v] : v);
export const sourcesPath = (name: string) => `${SOURCES_DIR}/${name}.sources`;
export const keyPath = (name: string, ext: "asc" | "gpg") => `${KEYRINGS_DIR}/${name}.${ext}`;

/** The sources file's wanted content (deb822). Pure. */
export function render(r: CatalogResource, signedBy: string | null): string {
  const p = paramsOf(r);
  const fields: [string, string[]][] = [
    ["Types", p.types ?? ["deb"]],
    ["URIs", list(p.uris)],
    ["Suites", list(p.suites)],
    ["Components", list(p.components)],
    ["Architectures", list(p.architectures)],
    ["Signed-By", signedBy ? [signedBy] : []],
  ];
  const lines = [`# Managed by tend (${r.id}): changes made here are undone on its next run.`];
  for (const [k, v] of fields) if (v.length) lines.push(`${k}: ${v.join(" ")}`);
  return `${lines.join("\n")}\n`;
}

interface KeyState {
  path: string;
  data: Buffer;
  /** The key's primary fingerprints (computed when asked: a key verified before needs none). */
  fingerprints(): string[];
  live: Live | null;
  /** The key under the other extension, left from an earlier key of the other format. */
  stale: { path: string; live: Live } | null;
}

const pinsOf = (p: AptRepositoryParams) => (p.fingerprint ? normalPins(p.fingerprint).join(" ") : "");

function fingerprintsOf(r: CatalogResource, data: Buffer): string[] {
  try {
    return primaryFingerprints(data);
  } catch (err) {
    throw new TendError(
      "TEND_E_KEY_FINGERPRINT",
      `${r.id}: the key is not usable: ${(err as Error).message}.`,
    );
  }
}

/**
 * The wanted key: read from the box when it is there already, else fetched; checked against its
 * pins unless this very key was checked against these very pins when it was last fetched with.
 */
async function keyState(r: CatalogResource, ctx: KindContext, rec: Fetched | null): Promise<KeyState | null> {
  const p = paramsOf(r);
  if (!p.key_sha256) return null;
  const found = {
    asc: readOwned(r.id, keyPath(r.name, "asc")),
    gpg: readOwned(r.id, keyPath(r.name, "gpg")),
  };
  const same = [found.asc, found.gpg].find((l) => l && sha256(l.data) === p.key_sha256);
  const data = same?.data ?? (await ctx.content(p.key_sha256));
  let fps: string[] | undefined;
  const fingerprints = () => (fps ??= fingerprintsOf(r, data));
  const verified = same && rec?.key === p.key_sha256 && rec.pins === pinsOf(p);
  if (!verified) {
    const why = p.fingerprint ? pinMismatch(fingerprints(), p.fingerprint) : null;
    if (why) throw new TendError("TEND_E_KEY_FINGERPRINT", `${r.id}: ${why}.`);
  }
  const ext = isArmored(data) ? "asc" : "gpg";
  const other = ext === "asc" ? "gpg" : "asc";
  const stale = found[other] ? { path: keyPath(r.name, other), live: found[other] } : null;
  return { path: keyPath(r.name, ext), data, fingerprints, live: found[ext], stale };
}

/** Whether apt has the lists of this very file and key (recorded after its last good update). */
function fetched(rec: Fetched | null, r: CatalogResource, sources: string, lists: Lists): boolean {
  return (
    !!rec &&
    rec.sources === sha256Text(sources) &&
    rec.key === (paramsOf(r).key_sha256 ?? null) &&
    listsThere(rec, lists)
  );
}

const sha256Text = (text: string) => hash("sha256", text, "hex");

/**
 * Per run: every repository's record of its last update (one read for all), /etc/apt/keyrings listed
 * (a key of the other format is looked for there, without a call), and the list files found, shared
 * by repositories whose lists are the same files. The records and the listing are trusted only while
 * nothing in the run has changed anything since they were read (changesStarted), the lists found
 * only since they were found.
 */
interface Prefetched {
  at: number;
  records: Records | null;
  keyrings: OwnedListing | null;
  lists: Lists;
}

async function prefetch(
  _resources: CatalogResource[],
  ctx: Omit<KindContext, "prefetched">,
): Promise<Prefetched> {
  const at = changesStarted(ctx.run);
  return {
    at,
    records: readRecords(ctx.stateDir),
    keyrings: listOwned(KEYRINGS_DIR, ctx.run),
    lists: { at, found: new Map() },
  };
}

/** This run's prefetch, or an empty one (a list file found is then remembered for this check only). */
function prefetched(ctx: KindContext): Prefetched {
  const at = changesStarted(ctx.run);
  return (
    (ctx.prefetched as Prefetched | undefined) ?? {
      at,
      records: null,
      keyrings: null,
      lists: { at, found: new Map() },
    }
  );
}

/** Whether a file is there: through the run's keyrings listing while it holds, else an lstat. */
function keyThere(path: string, pre: Prefetched, run: KindContext["run"]): boolean {
  const l = pre.keyrings;
  if (l && l.at === changesStarted(run) && dirname(path) === l.dir) {
    const name = basename(path);
    return l.files.has(name) || l.others.has(name);
  }
  return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
}

/**
 * The no-op path: the resource is as it was at its last good update, and its files, by their
 * stat, are as written then; nothing is read but the record (apt-fetched.ts).
 */
function unchangedSinceFetch(
  r: CatalogResource,
  rec: Fetched,
  pre: Prefetched,
  run: KindContext["run"],
): boolean {
  const p = paramsOf(r);
  if (rec.key !== (p.key_sha256 ?? null) || rec.pins !== pinsOf(p)) return false;
  const key = Object.keys(rec.files).find((f) => f.startsWith(`${KEYRINGS_DIR}/`)) ?? null;
  if (rec.sources !== sha256Text(render(r, key))) return false;
  if ((key === null) !== (p.key_sha256 === undefined)) return false;
  const other = key && keyPath(r.name, key.endsWith(".asc") ? "gpg" : "asc");
  if (other && keyThere(other, pre, run)) return false;
  if (pre.lists.at !== changesStarted(run)) pre.lists = { at: changesStarted(run), found: new Map() };
  return filesUnchanged(rec, [sourcesPath(r.name), ...(key ? [key] : [])]) && listsThere(rec, pre.lists);
}

async function check(r: CatalogResource, ctx: KindContext): Promise<CheckResult> {
  if (paramsOf(r).ensure === "absent") {
    const there = [sourcesPath(r.name), keyPath(r.name, "asc"), keyPath(r.name, "gpg")].some((f) =>
      readOwned(r.id, f),
    );
    return { changes: there ? [{ property: "ensure", from: "present", to: "absent" }] : [] };
  }
  const pre = prefetched(ctx);
  const records = pre.records && pre.at === changesStarted(ctx.run) ? pre.records : undefined;
  const rec = readFetched(ctx.stateDir, r.name, records);
  if (rec && unchangedSinceFetch(r, rec, pre, ctx.run)) return { changes: [] };
  const key = await keyState(r, ctx, rec);
  const changes: Change[] = [];
  if (key) {
    const keyChanges = (await ownedChanges({ path: key.path, data: key.data, mode: 0o644 }, key.live, "key"))
      .changes;
    const fps = (l: Live | null) => (l ? fingerprintsOr(l.data) : "absent");
    for (const c of keyChanges)
      changes.push(
        c.property === "key" ? { property: "key", from: fps(key.live), to: key.fingerprints().join(" ") } : c,
      );
    if (key.stale) changes.push({ property: "stale key", from: key.stale.path, to: "absent" });
  }
  const text = render(r, key?.path ?? null);
  const file = await ownedChanges(
    { path: sourcesPath(r.name), data: Buffer.from(text), mode: 0o644 },
    readOwned(r.id, sourcesPath(r.name)),
    "sources",
    "ensure",
  );
  changes.unshift(...file.changes);
  if (!changes.length && !fetched(rec, r, text, { at: -1, found: new Map() }))
    changes.push({ property: "index", from: "not fetched", to: "fetched" });
  return { changes, diff: file.diff };
}

function fingerprintsOr(data: Buffer): string {
  try {
    return primaryFingerprints(data).join(" ");
  } catch {
    return `sha256:${sha256(data)}`;
  }
}

function lockTimeoutS(run: Record<string, Json>): number {
  const n = Number(
    run["package.lock_timeout_s"] ?? process.env.TEND_DPKG_LOCK_TIMEOUT ?? DEFAULT_LOCK_TIMEOUT_S,
  );
  return Number.isFinite(n) && n >= 0 ? n : DEFAULT_LOCK_TIMEOUT_S;
}

async function apply(r: CatalogResource, _changes: Change[], ctx: KindContext): Promise<undefined> {
  if (paramsOf(r).ensure === "absent") {
    for (const f of [sourcesPath(r.name), keyPath(r.name, "asc"), keyPath(r.name, "gpg")])
      await removeOwned(ctx, r.id, f);
    await forgetFetched(ctx.stateDir, r.name);
    return;
  }
  const key = await keyState(r, ctx, null);
  if (key) {
    await writeOwned(ctx, { path: key.path, data: key.data, mode: 0o644 });
    if (key.stale) await removeOwned(ctx, r.id, key.stale.path);
  }
  const text = render(r, key?.path ?? null);
  const path = sourcesPath(r.name);
  await writeOwned(ctx, { path, data: Buffer.from(text), mode: 0o644 });
  await updateSource(r.id, path, lockTimeoutS(ctx.run), ctx.signal);
  const index = await indexFiles(path, ctx.signal);
  if (!index.length)
    throw new TendError(
      "TEND_E_APT_UPDATE",
      `${r.id}: apt-get update fetched no package lists for ${path}; check its suites, components and architectures.`,
    );
  const p = paramsOf(r);
  const record = { sources: sha256(Buffer.from(text)), key: p.key_sha256 ?? null, pins: pinsOf(p), index };
  await writeFetched(ctx.stateDir, r.name, record, [path, ...(key ? [key.path] : [])]);
}

export const aptRepository: Kind = { type: "apt_repository", spec, prefetch, check, apply };

/**
 * `archive`: a file downloaded from a URL and pinned by its sha256, saved at a path or extracted
 * into a directory there. Nothing becomes live before it is whole and verified: the download goes
 * to a temp file beside the path, is hashed on the way, and is renamed into place (or extracted
 * into a stage directory, checked, and renamed into place) only when its sha256 matches.
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  constants,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  type Stats,
} from "node:fs";
import { open, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { TendError } from "../../core/errors.js";
import type { KindSpec } from "../../core/kind-spec.js";
import type { CatalogResource, Change } from "../../core/types.js";
import { Accounts } from "../sys/accounts.js";
import { checkParents, fsyncDir, tempName } from "../sys/atomic-write.js";
import { download } from "../sys/download.js";
import { extractReplacing } from "../sys/extract.js";
import { chownTree, sweepStale } from "../sys/tree.js";
import { parseMode } from "./file-content.js";
import { metaChanges, setMeta, wantedIds } from "./file-meta.js";
import {
  type CheckResult,
  type Kind,
  type KindContext,
  mode,
  ownership,
  pathName,
  type WatchSpec,
} from "./kind.js";

export interface ArchiveParams {
  url: string;
  sha256: string;
  extract: boolean;
  strip_components?: number;
  mode?: string;
  owner?: string;
  group?: string;
}

/** The file in an extracted directory that says what was extracted there. */
export const MARKER = ".tend-archive";
/** The largest download accepted (TRUST E5). */
const MAX_BYTES = 4 * 1024 ** 3;

export const spec: KindSpec = {
  type: "archive",
  description:
    "A file downloaded from a URL and checked against its sha256, saved at an absolute path (the name) or extracted into a directory there.",
  notes: `The download goes to a temp file beside the path, hashed as it arrives, and becomes live only
whole and matching \`sha256\` (a mismatch fails the resource and changes nothing): a partial download
is never seen. Proxies come from \`HTTP_PROXY\`, \`HTTPS_PROXY\` and \`NO_PROXY\` in the agent's
environment; redirects are followed; a cut-off transfer is retried twice. A saved file is in sync
when its sha256 matches (it is read and hashed each run, as the file kind does). With
\`extract: true\`, the path is a directory that belongs to the archive: it is unpacked into a new
directory beside it, checked, and swapped in whole, with a \`${MARKER}\` file recording the sha256
and \`strip_components\`; a run whose marker matches downloads nothing and reads nothing else (files
changed inside are not watched: delete the marker to force a new extraction). tend replaces only a
directory it extracted (or an empty one). tar files are read by the box's tar (gzip always; xz,
bzip2, zstd when their tool is installed), zip files by tend itself. An entry named with \`..\` or
an absolute path, a symlink resolving outside the directory, a hard link to a file outside it or a
device refuses the whole archive; setuid and setgid bits are cleared. \`owner\`/\`group\` apply to
every extracted entry, \`mode\` to the directory itself. An archive comes after its nearest managed
parent directory, its owner and its group.`,
  name: pathName("Where the file is saved, or the directory it is extracted into (extract: true)."),
  name_is_path: true,
  attributes: {
    url: {
      title: "URL",
      description: "Where to download it from (http or https).",
      type: "string",
      pattern: "^https?://",
      "x-hint": 'a URL such as "https://nodejs.org/dist/v20.19.0/node-v20.19.0-linux-x64.tar.xz"',
    },
    sha256: {
      title: "SHA-256",
      description: "The file's sha256, as its publisher lists it: a download that does not match is refused.",
      type: "string",
      pattern: "^[0-9a-fA-F]{64}$",
      "x-hint": "64 hexadecimal digits, as sha256sum prints them",
    },
    extract: {
      title: "Extract",
      description:
        "Unpack the archive (tar, compressed or not, or zip) into the path, a directory, instead of saving the file there.",
      type: "boolean",
      default: false,
    },
    strip_components: {
      title: "Strip components",
      description:
        "Leading path components dropped from every entry: 1 drops the top folder most release archives have.",
      type: "integer",
      minimum: 0,
    },
    mode: mode("Permission bits of the saved file (new: 0644) or of the directory extracted into (0755)."),
    owner: {
      ...ownership.owner,
      description: "The owning user of the file, or of every extracted entry (unset: root).",
    },
    group: {
      ...ownership.group,
      description: "The owning group of the file, or of every extracted entry (unset: root).",
    },
  },
  required: ["extract"],
  mandatory: ["url", "sha256"],
  rules: [{ key: "strip_components", only_when: "extract", is: ["true"] }],
  edges: [
    { after: "file", ancestor: "name" },
    { after: "user", param: "owner" },
    { after: "group", param: "group" },
  ],
};

function accountsOf(ctx: KindContext): Accounts {
  return (ctx.prefetched as { accounts?: Accounts } | undefined)?.accounts ?? new Accounts();
}

/** sha256 of a regular file, read in pieces, without following a symlink swapped in. */
function hashFile(path: string, size: number): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const h = createHash("sha256");
    // Sized to the file up to 1 MiB: a small download costs one small read.
    const buf = Buffer.allocUnsafe(Math.min(Math.max(size, 1), 1024 * 1024) + 1);
    for (let n = -1; n !== 0; ) {
      n = readSync(fd, buf, 0, buf.length, null);
      h.update(buf.subarray(0, n));
    }
    return h.digest("hex");
  } finally {
    closeSync(fd);
  }
}

interface Marker {
  sha256: string;
  strip_components: number;
}

function readMarker(dir: string): Marker | null {
  try {
    const fd = openSync(join(dir, MARKER), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    let text: string;
    try {
      text = readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
    const m = JSON.parse(text);
    return typeof m?.sha256 === "string"
      ? { sha256: m.sha256, strip_components: Number(m.strip_components ?? 0) }
      : null;
  } catch {
    return null;
  }
}

function notOurs(r: CatalogResource, what: string): TendError {
  return new TendError(
    "TEND_E_ARCHIVE_PATH",
    `${r.id}: ${r.name} ${what}; tend replaces only what it put there. Move it away, or choose another path.`,
  );
}

async function check(r: CatalogResource, ctx: KindContext): Promise<CheckResult> {
  const p = r.params as unknown as ArchiveParams;
  const want = p.sha256.toLowerCase();
  checkParents(r.name, false);
  const st = lstatSync(r.name, { throwIfNoEntry: false });
  if (!st) return { changes: [{ property: "sha256", from: "absent", to: want }] };
  const meta = () => metaChanges(p, st, accountsOf(ctx), r.id, true);
  if (!p.extract) {
    if (!st.isFile()) throw notOurs(r, "is not a regular file");
    const have = hashFile(r.name, st.size);
    return { changes: [...(have === want ? [] : [{ property: "sha256", from: have, to: want }]), ...meta()] };
  }
  if (!st.isDirectory()) throw notOurs(r, "is not a directory");
  const marker = readMarker(r.name);
  if (!marker) {
    if (readdirSync(r.name).length > 0)
      throw notOurs(r, `holds files that tend did not extract (no ${MARKER})`);
    return { changes: [{ property: "sha256", from: "empty", to: want }] };
  }
  const changes: Change[] = [];
  if (marker.sha256 !== want) changes.push({ property: "sha256", from: marker.sha256, to: want });
  const strip = p.strip_components ?? 0;
  if (marker.strip_components !== strip)
    changes.push({ property: "strip_components", from: marker.strip_components, to: strip });
  return { changes: [...changes, ...meta()] };
}

/** Download into a temp file beside the path; its name once the sha256 is proven. */
async function fetchVerified(r: CatalogResource, p: ArchiveParams, ctx: KindContext): Promise<string> {
  const temp = tempName(r.name);
  const delay = ctx.run["archive.retry_delay_ms"];
  let got: { sha256: string };
  try {
    got = await download(p.url, temp, {
      maxBytes: MAX_BYTES,
      signal: ctx.signal,
      ...(typeof delay === "number" ? { retryDelayMs: delay } : {}),
    });
  } catch (err) {
    throw new TendError(
      "TEND_E_ARCHIVE_DOWNLOAD",
      `${r.id}: ${(err as Error).message}; nothing was changed.`,
    );
  }
  if (got.sha256 !== p.sha256.toLowerCase()) {
    await rm(temp, { force: true });
    throw new TendError(
      "TEND_E_ARCHIVE_CHECKSUM",
      `${r.id}: ${p.url} has sha256 ${got.sha256}, not ${p.sha256.toLowerCase()} as the resource says; nothing was changed. If the file changed upstream on purpose, update sha256.`,
    );
  }
  return temp;
}

/** A saved file: owner and mode set on the verified temp file, fsynced, renamed into place. */
async function saveFile(
  r: CatalogResource,
  p: ArchiveParams,
  temp: string,
  st: Stats | undefined,
  ids: { uid?: number; gid?: number },
): Promise<void> {
  const fh = await open(temp, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    await fh.sync();
    if (ids.uid !== undefined || ids.gid !== undefined) await fh.chown(ids.uid ?? -1, ids.gid ?? -1);
    await fh.chmod(p.mode !== undefined ? parseMode(p.mode) : st ? st.mode & 0o7777 : 0o644);
  } finally {
    await fh.close();
  }
  renameSync(temp, r.name);
}

async function apply(r: CatalogResource, changes: Change[], ctx: KindContext): Promise<undefined> {
  const p = r.params as unknown as ArchiveParams;
  checkParents(r.name, false);
  const st = lstatSync(r.name, { throwIfNoEntry: false });
  const ids = wantedIds(p, accountsOf(ctx), r.id);
  const props = new Set(changes.map((c) => c.property));
  if (props.has("sha256") || props.has("strip_components")) {
    const temp = await fetchVerified(r, p, ctx);
    try {
      if (p.extract) {
        const strip = p.strip_components ?? 0;
        const marker: Marker & { url: string } = {
          sha256: p.sha256.toLowerCase(),
          strip_components: strip,
          url: p.url,
        };
        await extractReplacing(r.name, temp, {
          strip,
          ...ids,
          mode: p.mode ? parseMode(p.mode) : 0o755,
          marker: { name: MARKER, text: `${JSON.stringify(marker)}\n` },
          signal: ctx.signal,
        });
      } else await saveFile(r, p, temp, st, ids);
      await fsyncDir(dirname(r.name));
    } finally {
      await rm(temp, { force: true });
    }
    return;
  }
  if (p.extract && (props.has("owner") || props.has("group")))
    await chownTree(r.name, ids.uid ?? st!.uid, ids.gid ?? st!.gid, ctx.signal);
  await setMeta(p.extract ? { mode: p.mode } : p, r.name, p.extract ? {} : ids, false);
}

/** Per run: the account database; in an apply run, temp files and stages a killed run left are removed. */
async function prefetch(
  resources: CatalogResource[],
  ctx: Omit<KindContext, "prefetched">,
): Promise<{ accounts: Accounts }> {
  if (!ctx.noop)
    for (const res of resources) if (res.type === "archive") await sweepStale(res.name, ctx.log, ctx.signal);
  return { accounts: new Accounts() };
}

/** Watch mode: the saved file, or the extracted directory (its marker removed is an event there). */
function watch(r: CatalogResource): WatchSpec {
  return { paths: [r.name] };
}

export const archive: Kind = { type: "archive", spec, prefetch, check, apply, watch };

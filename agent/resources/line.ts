/**
 * `line`: one line in a file tend does not own entirely (Puppet's file_line, Ansible's lineinfile).
 * The edit itself is a pure function of the file's text (`editLines`); check reads the file once and
 * diffs, apply re-reads it, keeps the replaced content in the backup store and writes atomically
 * with the file's own owner and mode.
 */
import { closeSync, fstatSync, lstatSync, openSync, readFileSync, type Stats } from "node:fs";
import { dirname } from "node:path";
import { TendError } from "../../core/errors.js";
import type { KindSpec } from "../../core/kind-spec.js";
import type { CatalogResource, Change } from "../../core/types.js";
import { BackupStore } from "../store/file-backups.js";
import { atomicWrite, resolveWriteTarget, sweepStaleTemps } from "../sys/atomic-write.js";
import { hidden } from "./file.js";
import { contentDiff, readFlags } from "./file-content.js";
import { type CheckResult, ensure, type Kind, type KindContext, pathName } from "./kind.js";

export interface LineParams {
  path: string;
  text?: string;
  ensure: "present" | "absent";
  match?: string;
  after?: string;
  backup?: boolean;
  sensitive?: boolean;
  follow_symlink?: boolean;
}

const regex = (title: string, description: string) => ({
  title,
  description,
  type: "string",
  minLength: 1,
  format: "regex",
  "x-hint": 'a JavaScript regular expression such as "^#?PermitRootLogin "',
});

export const spec: KindSpec = {
  type: "line",
  description:
    "One line in a file that tend does not own entirely (Puppet's `file_line`, Ansible's `lineinfile`). The name is a free title; the line is `text`, or the name itself when `text` is not given.",
  notes: `\`present\`: nothing changes when the exact line is in the file already. Otherwise the first
line matching \`match\` is replaced by it; without a match it goes after the first line matching
\`after\`, or at the end of the file. \`absent\` removes every line equal to the text and, when
\`match\` is given, every line matching it. Regular expressions are JavaScript's (with the \`u\` flag),
matched anywhere in a line unless anchored with \`^\`/\`$\`; they are checked at validate time.
The file must exist (a \`file\` resource without content creates it, empty, and leaves its content
to lines); a line comes after \`file:PATH\` and the nearest managed parent directory of the path.
Writes are atomic and keep the file's owner and mode; the replaced content goes to the backup store
(\`tend backup list PATH\`). The plan shows a unified diff, hidden like the \`file\` kind's for a file
not readable by others. Do not combine it with a \`file\` resource that sets the same file's content:
they would undo each other on every run.`,
  name: { title: "Title", description: "A free title, unique among lines.", type: "string", minLength: 1 },
  attributes: {
    path: pathName("The file to edit."),
    text: {
      title: "Text",
      description: "The line, without its newline. Default: the resource's name.",
      type: "string",
      pattern: "^[^\\n]*$",
    },
    ensure: ensure(["present", "absent"], "`present` (the line is in the file) or `absent` (it is not)."),
    match: regex(
      "Match",
      "A line matching it is replaced by the text (present), or removed (absent). Only the first match is replaced.",
    ),
    after: regex(
      "After",
      "A new line goes right after the first line matching it; at the end of the file when none does.",
    ),
    backup: {
      title: "Backup",
      description: "Keep the replaced content in the local backup store (`tend backup list`). Default true.",
      type: "boolean",
    },
    sensitive: {
      title: "Sensitive",
      description:
        "Never show the file's content in plans and reports. Default: true when the file is not readable by others.",
      type: "boolean",
    },
    follow_symlink: {
      title: "Follow symlink",
      description: "Edit the file a symlink at the path points to. Default false: a symlink is refused.",
      type: "boolean",
    },
  },
  required: ["ensure"],
  mandatory: ["path"],
  edges: [
    { after: "file", param: "path" },
    { after: "file", ancestor: "path" },
  ],
};

/** A file's text as lines, and whether it ended with a newline. */
function splitLines(text: string): { lines: string[]; newline: boolean } {
  if (text === "") return { lines: [], newline: false };
  const lines = text.split("\n");
  const newline = lines[lines.length - 1] === "";
  if (newline) lines.pop();
  return { lines, newline };
}

export interface Edit {
  text: string;
  change: Change;
}

/** The file's new text when the line is not as wanted, else null. Pure. */
export function editLines(text: string, p: LineParams, line: string): Edit | null {
  const { lines, newline } = splitLines(text);
  const join = (out: string[], end: boolean) => (out.length ? `${out.join("\n")}${end ? "\n" : ""}` : "");
  const match = p.match === undefined ? null : new RegExp(p.match, "u");
  if (p.ensure === "absent") {
    const kept = lines.filter((l) => l !== line && !match?.test(l));
    if (kept.length === lines.length) return null;
    const n = lines.length - kept.length;
    return {
      text: join(kept, newline),
      change: { property: "line", from: n === 1 ? "present" : `present ${n} times`, to: "absent" },
    };
  }
  if (lines.includes(line)) return null;
  const at = match ? lines.findIndex((l) => match.test(l)) : -1;
  if (at >= 0) {
    const old = lines[at]!;
    lines[at] = line;
    return { text: join(lines, newline), change: { property: "line", from: old, to: line } };
  }
  const after = p.after === undefined ? -1 : lines.findIndex((l) => new RegExp(p.after!, "u").test(l));
  if (after >= 0) lines.splice(after + 1, 0, line);
  else lines.push(line);
  // A line added at the end ends with a newline, as every line of a text file should.
  return {
    text: join(lines, newline || after < 0),
    change: { property: "line", from: "absent", to: line },
  };
}

interface Found {
  /** The file written to: the path, or a symlink's target when following. */
  target: string;
  st: Stats;
  data: Buffer;
}

/** The file as it is, or null when there is none; refuses what a line cannot live in. */
function read(r: CatalogResource, p: LineParams): Found | null {
  const follow = p.follow_symlink ?? false;
  const lst = lstatSync(p.path, { throwIfNoEntry: false });
  if (!lst) return null;
  const target = resolveWriteTarget(p.path, follow); // refuses a symlink unless follow_symlink
  const notFile = () =>
    new TendError(
      "TEND_E_FILE_TYPE",
      `${r.id}: ${p.path} is not a regular file; a line lives in a text file.`,
    );
  if (!(target === p.path ? lst : lstatSync(target)).isFile()) throw notFile();
  // The target is no symlink (resolved above): opened without following one swapped in since.
  const fd = openSync(target, readFlags(false));
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw notFile();
    return { target, st, data: readFileSync(fd) };
  } finally {
    closeSync(fd);
  }
}

function textOf(r: CatalogResource): string {
  return (r.params as unknown as LineParams).text ?? r.name;
}

function missing(r: CatalogResource, path: string): TendError {
  return new TendError(
    "TEND_E_LINE_NO_FILE",
    `${r.id}: ${path} does not exist; a line edits an existing file. Create it first with a file resource (ensure: file, no content: tend then leaves its content to lines).`,
  );
}

function edited(r: CatalogResource, p: LineParams, found: Found): Edit | null {
  const line = textOf(r);
  if (line.includes("\n"))
    throw new TendError("TEND_E_LINE_TEXT", `${r.id}: the text of a line must not contain a newline.`);
  return editLines(found.data.toString("utf8"), p, line);
}

async function check(r: CatalogResource, _ctx: KindContext): Promise<CheckResult> {
  const p = r.params as unknown as LineParams;
  const found = read(r, p);
  if (!found) {
    if (p.ensure === "absent") return { changes: [] };
    throw missing(r, p.path);
  }
  const edit = edited(r, p, found);
  if (!edit) return { changes: [] };
  const note = hidden({ ensure: "file", sensitive: p.sensitive }, found.st.mode);
  if (note) {
    const { property } = edit.change;
    return { changes: [{ property, from: "(hidden)", to: "(hidden)" }], diff: note };
  }
  return { changes: [edit.change], diff: await contentDiff(p.path, found.data, Buffer.from(edit.text)) };
}

async function apply(r: CatalogResource, _changes: Change[], ctx: KindContext): Promise<undefined> {
  const p = r.params as unknown as LineParams;
  const found = read(r, p);
  if (!found) {
    if (p.ensure === "absent") return;
    throw missing(r, p.path);
  }
  const edit = edited(r, p, found);
  if (!edit) return;
  if (p.backup !== false) await new BackupStore(ctx.stateDir).save(found.target, found.data, found.st);
  await atomicWrite(found.target, Buffer.from(edit.text), {
    mode: found.st.mode & 0o7777,
    uid: found.st.uid,
    gid: found.st.gid,
  });
}

/** In a run that may write: the temp files a killed run left beside the edited files are removed. */
async function prefetch(
  resources: CatalogResource[],
  ctx: Omit<KindContext, "prefetched">,
): Promise<undefined> {
  if (ctx.noop) return;
  const dirs = new Set(
    resources.filter((r) => r.type === "line").map((r) => dirname((r.params as unknown as LineParams).path)),
  );
  for (const d of dirs)
    for (const gone of sweepStaleTemps(d)) ctx.log(`removed ${gone}, left by an interrupted run`);
}

export const line: Kind = { type: "line", spec, prefetch, check, apply };

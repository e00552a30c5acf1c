/**
 * `cron`: one job in /etc/cron.d/NAME, a file tend renders whole (owned-file.ts): its environment
 * lines, then `SCHEDULE USER COMMAND`. The schedule is checked by a JSON Schema pattern built here
 * from the fields cron knows, so `tend validate` refuses a bad one with file:line.
 */
import type { KindSpec } from "../../core/kind-spec.js";
import type { CatalogResource, Change } from "../../core/types.js";
import { accountName, type CheckResult, type Kind, type KindContext, presence } from "./kind.js";
import { ownedChanges, readOwned, removeOwned, writeOwned } from "./owned-file.js";

export interface CronParams {
  ensure: "present" | "absent";
  schedule?: string;
  user: string;
  command?: string;
  environment?: Record<string, string>;
}

export const CRON_DIR = "/etc/cron.d";

/** A name of any case: `jan` → `[jJ][aA][nN]` (cron reads names case-insensitively). */
const anyCase = (word: string) => [...word].map((c) => `[${c}${c.toUpperCase()}]`).join("");

/**
 * One field: `*`, a value, a range, a step over `*` or a range (Debian's cron takes no step after a
 * single value), or a comma-separated list of those.
 */
function field(numbers: string, names: readonly string[] = []): string {
  const value = `(?:${[numbers, ...names.map(anyCase)].join("|")})`;
  const item = `(?:(?:\\*|${value}-${value})(?:/[1-9][0-9]*)?|${value})`;
  return `${item}(?:,${item})*`;
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const KEYWORDS = ["reboot", "yearly", "annually", "monthly", "weekly", "daily", "midnight", "hourly"];

/** Minute, hour, day of month, month, day of week; or one of cron's @keywords. */
export const SCHEDULE = `^(?:@(?:${KEYWORDS.join("|")})|${[
  field("[0-5]?[0-9]"),
  field("[01]?[0-9]|2[0-3]"),
  field("0?[1-9]|[12][0-9]|3[01]"),
  field("0?[1-9]|1[0-2]", MONTHS),
  field("[0-7]", DAYS),
].join("[ \\t]+")})$`;

const ONE_LINE = "^[^\\n]*$";

export const spec: KindSpec = {
  type: "cron",
  description: "A scheduled job: one entry in /etc/cron.d/NAME, with its user and environment.",
  notes: `The file is tend's whole (root's, mode 0644, replaced atomically, the old content kept in the
backup store); cron reads /etc/cron.d again on its own within a minute. The command runs with
/bin/sh as cron runs it, so it is a shell line; a \`%\` is written as \`\\%\` (cron would turn it into a
newline), so write the command as you would in a shell. The schedule is five fields (minute, hour,
day of month, month, day of week; \`*\`, values, ranges, \`*/N\` or \`A-B/N\` steps, lists, month and
day names) or one of @reboot, @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually;
\`tend validate\` refuses anything else. The name is the file's: cron ignores files in /etc/cron.d
whose names hold a dot, so the name is letters, digits, \`_\` and \`-\`. A user's own crontab
(\`crontab -e\`) is left alone. A job comes after its user, after a \`cron\` (or \`cronie\`,
\`systemd-cron\`) package and after \`file:/etc/cron.d\` when the recipe declares them.`,
  name: {
    title: "Name",
    description: "The job's file name in /etc/cron.d.",
    type: "string",
    pattern: "^[A-Za-z0-9_-]+$",
    "x-hint":
      'a name of letters, digits, "_" and "-" such as "db-backup" (cron ignores /etc/cron.d files with a dot in their name)',
  },
  attributes: {
    ensure: presence,
    schedule: {
      title: "Schedule",
      description:
        'When it runs: five fields ("30 2 * * *": minute, hour, day of month, month, day of week) or @daily, @hourly, @reboot...',
      type: "string",
      pattern: SCHEDULE,
      "x-hint": 'a cron schedule such as "30 2 * * *", "*/5 * * * mon-fri" or "@daily"',
    },
    user: { ...accountName("User", "The user the command runs as.", "backup"), default: "root" },
    command: {
      title: "Command",
      description: "The command line, run by /bin/sh.",
      type: "string",
      minLength: 1,
      pattern: ONE_LINE,
    },
    environment: {
      title: "Environment",
      description:
        "Variables set for the command (MAILTO, PATH, SHELL, your own), written above the entry. Values are taken literally (no $VAR expansion).",
      type: "object",
      propertyNames: { pattern: "^[A-Za-z_][A-Za-z0-9_]*$" },
      additionalProperties: { type: "string", pattern: ONE_LINE },
    },
  },
  required: ["ensure", "user"],
  rules: [
    { key: "schedule", required_when: "ensure", is: "present" },
    { key: "command", required_when: "ensure", is: "present" },
  ],
  edges: [
    { after: "user", param: "user" },
    { after: "package", names: ["cron", "cronie", "systemd-cron"] },
    { after: "file", names: [CRON_DIR] },
  ],
};

/** A value as cron reads it back: quoted when blanks at its ends or emptiness would be lost. */
function envValue(v: string): string {
  return v === "" || v.trim() !== v ? `"${v}"` : v;
}

/** The file's wanted content. Pure. */
export function render(r: CatalogResource): string {
  const p = r.params as unknown as CronParams;
  const lines = [`# Managed by tend (${r.id}): changes made here are undone on its next run.`];
  for (const [k, v] of Object.entries(p.environment ?? {})) lines.push(`${k}=${envValue(v)}`);
  lines.push(`${p.schedule} ${p.user} ${(p.command ?? "").replaceAll("%", "\\%")}`);
  return `${lines.join("\n")}\n`;
}

const pathOf = (r: CatalogResource) => `${CRON_DIR}/${r.name}`;
const wanted = (r: CatalogResource) => ({ path: pathOf(r), data: Buffer.from(render(r)), mode: 0o644 });

async function check(r: CatalogResource, _ctx: KindContext): Promise<CheckResult> {
  const p = r.params as unknown as CronParams;
  const live = readOwned(r.id, pathOf(r));
  if (p.ensure === "absent")
    return { changes: live ? [{ property: "ensure", from: "present", to: "absent" }] : [] };
  return ownedChanges(wanted(r), live, "content", "ensure");
}

async function apply(r: CatalogResource, _changes: Change[], ctx: KindContext): Promise<undefined> {
  const p = r.params as unknown as CronParams;
  if (p.ensure === "absent") await removeOwned(ctx, r.id, pathOf(r));
  else await writeOwned(ctx, wanted(r));
}

export const cron: Kind = { type: "cron", spec, check, apply };

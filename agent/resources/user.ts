/**
 * `user`: a local account, read from /etc/passwd and /etc/group, changed with useradd/usermod/
 * userdel. `groups` is a minimum: the listed supplementary groups are added, others are left alone.
 */
import { TendError } from "../../core/errors.js";
import type { KindSpec } from "../../core/kind-spec.js";
import type { CatalogResource, Change } from "../../core/types.js";
import { Accounts } from "../sys/accounts.js";
import { runTool } from "../sys/proc.js";
import { accountName, type CheckResult, type Kind, type KindContext, presence } from "./kind.js";

export interface UserParams {
  ensure: "present" | "absent";
  uid?: number;
  gid?: string | number;
  groups?: string[];
  home?: string;
  manage_home?: boolean;
  shell?: string;
  system?: boolean;
  comment?: string;
}

export const spec: KindSpec = {
  type: "user",
  description:
    "A local user account (/etc/passwd), changed with useradd/usermod/userdel. The name is the login.",
  notes: `\`groups\` is a minimum: the listed supplementary groups are added, others are left alone.
\`system\` applies only when creating. Without \`gid\`, a new user whose name is also a group's gets
that group as its primary group (declaring \`group: app\` and \`user: app\` is the common case; a
user comes after the group of its own name); otherwise useradd makes a group of the user's name.`,
  attribute_key_rank: 1,
  name: accountName("Login", "The login name.", "deploy"),
  attributes: {
    ensure: presence,
    uid: { title: "UID", description: "The numeric user id.", type: "integer", minimum: 0 },
    gid: {
      title: "Primary group",
      description:
        "The primary group, a name or a gid. The group must exist (declare it with a group resource).",
      type: ["string", "integer"],
    },
    groups: {
      title: "Supplementary groups",
      description: "Groups the user must be a member of; membership of other groups is left alone.",
      type: "array",
      items: { type: "string" },
    },
    home: { title: "Home directory", description: "The home directory path.", type: "string", pattern: "^/" },
    manage_home: {
      title: "Manage home",
      description:
        "Create the home directory with the user (and move it when `home` changes); remove it when the user is removed. Default false.",
      type: "boolean",
    },
    shell: {
      title: "Login shell",
      description: "The login shell, e.g. /bin/bash.",
      type: "string",
      pattern: "^/",
    },
    system: {
      title: "System account",
      description:
        "Create it as a system account (a uid from the system range); used only when creating. Default false.",
      type: "boolean",
    },
    comment: {
      title: "Comment",
      description: "The GECOS field: usually the person's full name.",
      type: "string",
    },
  },
  required: ["ensure"],
  edges: [
    { after: "group", param: "gid" },
    { after: "group", param: "groups" },
    { after: "group", names: ["{name}"] },
  ],
};

function primaryGid(r: CatalogResource, p: UserParams, accounts: Accounts): number | undefined {
  if (p.gid === undefined) return undefined;
  const gid = typeof p.gid === "number" ? p.gid : accounts.gidOf(p.gid);
  if (gid === undefined) {
    throw new TendError(
      "TEND_E_UNKNOWN_OWNER",
      `${r.id}: primary group "${p.gid}" is not a group on this box.`,
    );
  }
  return gid;
}

function missingGroups(r: CatalogResource, p: UserParams, accounts: Accounts): string[] {
  const missing: string[] = [];
  for (const g of p.groups ?? []) {
    const entry = accounts.group(g);
    if (!entry)
      throw new TendError("TEND_E_UNKNOWN_OWNER", `${r.id}: group "${g}" is not a group on this box.`);
    if (!entry.members.includes(r.name)) missing.push(g);
  }
  return missing;
}

async function check(r: CatalogResource, _ctx: KindContext): Promise<CheckResult> {
  const p = r.params as unknown as UserParams;
  const accounts = new Accounts();
  const u = accounts.user(r.name);
  if (p.ensure === "absent")
    return { changes: u ? [{ property: "ensure", from: "present", to: "absent" }] : [] };
  if (!u) return { changes: [{ property: "ensure", from: "absent", to: "present" }] };
  const changes: Change[] = [];
  if (p.uid !== undefined && u.uid !== p.uid) changes.push({ property: "uid", from: u.uid, to: p.uid });
  const gid = primaryGid(r, p, accounts);
  if (gid !== undefined && u.gid !== gid) changes.push({ property: "gid", from: u.gid, to: p.gid ?? null });
  const missing = missingGroups(r, p, accounts);
  if (missing.length > 0) {
    const have = accounts.groupsOf(r.name).sort();
    changes.push({ property: "groups", from: have, to: [...new Set([...have, ...missing])].sort() });
  }
  if (p.home !== undefined && u.home !== p.home) changes.push({ property: "home", from: u.home, to: p.home });
  if (p.shell !== undefined && u.shell !== p.shell)
    changes.push({ property: "shell", from: u.shell, to: p.shell });
  if (p.comment !== undefined && u.comment !== p.comment) {
    changes.push({ property: "comment", from: u.comment, to: p.comment });
  }
  return { changes };
}

async function apply(r: CatalogResource, changes: Change[], ctx: KindContext): Promise<undefined> {
  const p = r.params as unknown as UserParams;
  const opts = { signal: ctx.signal };
  const accounts = new Accounts();
  if (p.ensure === "absent") {
    await runTool(["userdel", ...(p.manage_home ? ["--remove"] : []), "--", r.name], opts);
    return;
  }
  const props = new Set(changes.map((c) => c.property));
  const create = props.has("ensure");
  const argv = [create ? "useradd" : "usermod"];
  const has = (k: string) => create || props.has(k);
  if (p.uid !== undefined && has("uid")) argv.push("--uid", String(p.uid));
  const gid = primaryGid(r, p, accounts);
  if (gid !== undefined && has("gid")) argv.push("--gid", String(gid));
  if (p.home !== undefined && has("home")) argv.push("--home", p.home);
  if (p.shell !== undefined && has("shell")) argv.push("--shell", p.shell);
  if (p.comment !== undefined && has("comment")) argv.push("--comment", p.comment);
  if (create) {
    // useradd would try to make a group of the user's name and fail when one exists: use it.
    if (p.gid === undefined && accounts.group(r.name)) argv.push("--gid", r.name);
    if (p.groups?.length) argv.push("--groups", p.groups.join(","));
    if (p.system) argv.push("--system");
    argv.push(p.manage_home ? "--create-home" : "--no-create-home");
  } else {
    const missing = props.has("groups") ? missingGroups(r, p, accounts) : [];
    if (missing.length > 0) argv.push("--append", "--groups", missing.join(","));
    if (props.has("home") && p.manage_home) argv.push("--move-home");
  }
  if (argv.length === 1) return;
  await runTool([...argv, "--", r.name], opts);
}

export const user: Kind = { type: "user", spec, check, apply };

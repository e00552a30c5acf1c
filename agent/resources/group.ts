/** `group`: a local group, read from /etc/group, changed with groupadd/groupmod/groupdel. */

import type { KindSpec } from "../../core/kind-spec.js";
import type { CatalogResource, Change } from "../../core/types.js";
import { Accounts } from "../sys/accounts.js";
import { runTool } from "../sys/proc.js";
import { accountName, type CheckResult, type Kind, type KindContext, presence } from "./kind.js";

export interface GroupParams {
  ensure: "present" | "absent";
  gid?: number;
  system?: boolean;
}

export const spec: KindSpec = {
  type: "group",
  description:
    "A local group (/etc/group), changed with groupadd/groupmod/groupdel. The name is the group name.",
  attribute_key_rank: 2,
  name: accountName("Group name", "The group name.", "admins"),
  attributes: {
    ensure: presence,
    gid: { title: "GID", description: "The numeric group id.", type: "integer", minimum: 0 },
    system: {
      title: "System group",
      description:
        "Create it as a system group (a gid from the system range); used only when creating. Default false.",
      type: "boolean",
    },
  },
  required: ["ensure"],
};

async function check(r: CatalogResource, _ctx: KindContext): Promise<CheckResult> {
  const p = r.params as unknown as GroupParams;
  const g = new Accounts().group(r.name);
  if (p.ensure === "absent")
    return { changes: g ? [{ property: "ensure", from: "present", to: "absent" }] : [] };
  if (!g) return { changes: [{ property: "ensure", from: "absent", to: "present" }] };
  const changes: Change[] = [];
  if (p.gid !== undefined && g.gid !== p.gid) changes.push({ property: "gid", from: g.gid, to: p.gid });
  return { changes };
}

async function apply(r: CatalogResource, changes: Change[], ctx: KindContext): Promise<undefined> {
  const p = r.params as unknown as GroupParams;
  const opts = { signal: ctx.signal };
  if (p.ensure === "absent") {
    await runTool(["groupdel", "--", r.name], opts);
    return;
  }
  if (changes.some((c) => c.property === "ensure")) {
    const argv = ["groupadd"];
    if (p.gid !== undefined) argv.push("--gid", String(p.gid));
    if (p.system) argv.push("--system");
    await runTool([...argv, "--", r.name], opts);
    return;
  }
  if (p.gid !== undefined) await runTool(["groupmod", "--gid", String(p.gid), "--", r.name], opts);
}

export const group: Kind = { type: "group", spec, check, apply };

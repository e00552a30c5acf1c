/**
 * `sysctl`: a kernel parameter, set live through /proc/sys (agent/sys/sysctl.ts) and persisted in
 * its own file in /etc/sysctl.d (owned-file.ts) so a reboot keeps it. The no-op check is two reads:
 * /etc/sysctl.d is listed once per run (prefetch), so the persisted file is read with an open and an
 * fstat while the run has changed nothing, and a missing one costs no call at all.
 */
import type { KindSpec } from "../../core/kind-spec.js";
import type { CatalogResource, Change, Json } from "../../core/types.js";
import { readOnlyError, readParam, unknownParam, whyNotWritable, writeParam } from "../sys/sysctl.js";
import { type CheckResult, type Kind, type KindContext, presence } from "./kind.js";
import {
  listOwned,
  type OwnedListing,
  ownedChanges,
  readListed,
  removeOwned,
  writeOwned,
} from "./owned-file.js";

export interface SysctlParams {
  ensure: "present" | "absent";
  value?: string | number;
}

export const SYSCTL_DIR = "/etc/sysctl.d";

export const spec: KindSpec = {
  type: "sysctl",
  description:
    "A kernel parameter (`net.ipv4.ip_forward`), set live and persisted in /etc/sysctl.d so it survives a reboot.",
  notes: `The live value is read from and written to /proc/sys (no process); it is persisted in
\`/etc/sysctl.d/99-tend-NAME.conf\`, one file per parameter, which sorts after the distribution's
files and /etc/sysctl.conf (\`99-sysctl.conf\`), so tend's value is the one set at boot. Values are
compared as the kernel prints them, whitespace-insensitively and with numbers compared as numbers
(\`"4096 87380 6291456"\` matches the kernel's tab-separated output). A parameter the box cannot write
— /proc/sys is read-only in a container (EROFS), or the parameter belongs to the host (EACCES,
EPERM) — fails with \`TEND_E_SYSCTL_READONLY\` naming it, already in the plan, but only when its value
differs. \`absent\` removes the persisted file and leaves the live value as it is (there is no
default to go back to); it takes effect at the next boot.`,
  name: {
    title: "Parameter",
    description:
      "The parameter's name with dots, as `sysctl` prints it; a slash stands for a dot inside an interface name (net.ipv4.conf.eth0/100.forwarding).",
    type: "string",
    pattern: "^[a-z][a-z0-9_]*(\\.[A-Za-z0-9_:@+/-]+)+$",
    "x-hint": 'a parameter name such as "net.ipv4.ip_forward" or "vm.swappiness"',
  },
  attributes: {
    ensure: presence,
    value: {
      title: "Value",
      description: 'The value, e.g. 1 or "4096 87380 6291456".',
      type: ["string", "integer"],
      pattern: "^[^\\n]*$",
    },
  },
  required: ["ensure"],
  rules: [{ key: "value", required_when: "ensure", is: "present" }],
};

/** Whitespace-separated words, numbers in their plain form: "01\t2" and "1 2" compare equal. */
export function normalValue(v: Json | undefined): string {
  return String(v ?? "")
    .trim()
    .split(/\s+/)
    .map((w) => (/^-?\d+$/.test(w) ? BigInt(w).toString() : w))
    .join(" ");
}

/** 99-tend-NAME.conf; a slash (an interface name's dot) cannot be in a file name. */
export const persistPath = (name: string) => `${SYSCTL_DIR}/99-tend-${name.replaceAll("/", "_")}.conf`;

function persisted(r: CatalogResource, value = normalValue((r.params as unknown as SysctlParams).value)) {
  const text = `# Managed by tend (${r.id}): changes made here are undone on its next run.\n${r.name} = ${value}\n`;
  return { path: persistPath(r.name), data: Buffer.from(text), mode: 0o644 };
}

/** /etc/sysctl.d, listed once for the run (see owned-file.ts's readListed). */
async function prefetch(
  _resources: CatalogResource[],
  ctx: Omit<KindContext, "prefetched">,
): Promise<OwnedListing | null> {
  return listOwned(SYSCTL_DIR, ctx.run);
}

async function check(r: CatalogResource, ctx: KindContext): Promise<CheckResult> {
  const p = r.params as unknown as SysctlParams;
  const file = readListed(r.id, persistPath(r.name), ctx.prefetched as OwnedListing | null, ctx.run);
  if (p.ensure === "absent")
    return { changes: file ? [{ property: "persisted", from: "present", to: "absent" }] : [] };
  const live = readParam(r.name);
  if (live === null) throw unknownParam(r.id, r.name);
  const changes: Change[] = [];
  const want = normalValue(p.value);
  if (live !== want && normalValue(live) !== want) {
    // Known now, not at apply: a plan shows the failure instead of a change that cannot happen.
    const why = whyNotWritable(r.name);
    if (why) throw readOnlyError(r.id, r.name, why);
    changes.push({ property: "value", from: normalValue(live), to: want });
  }
  const onDisk = await ownedChanges(persisted(r, want), file, "persisted");
  return { changes: [...changes, ...onDisk.changes], diff: onDisk.diff };
}

async function apply(r: CatalogResource, changes: Change[], ctx: KindContext): Promise<undefined> {
  const p = r.params as unknown as SysctlParams;
  if (p.ensure === "absent") {
    await removeOwned(ctx, r.id, persistPath(r.name));
    return;
  }
  // Live first: a value the kernel refuses is never persisted to fail again at every boot.
  if (changes.some((c) => c.property === "value")) writeParam(r.id, r.name, normalValue(p.value));
  if (changes.some((c) => c.property.startsWith("persisted"))) await writeOwned(ctx, persisted(r));
}

export const sysctl: Kind = { type: "sysctl", spec, prefetch, check, apply };

/**
 * `systemd_unit`: a unit file in /etc/systemd/system, or a drop-in that extends one, with its
 * enablement; `ensure: absent` stops, disables and removes it. systemd is told once per run:
 * writing a unit sets the run's `daemonReloadNeeded`, which the service kind honours before a
 * start or restart, and which this kind's `settle` honours at the end of the run when no service
 * did. The no-op check is one lstat, one read and one hash per unit (the file kind's), plus one
 * `systemctl is-enabled` for all the units whose enablement is managed.
 */
import { promises as fsp, lstatSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { TendError } from "../../core/errors.js";
import type { KindSpec } from "../../core/kind-spec.js";
import type { CatalogResource, Change } from "../../core/types.js";
import { atomicWrite, fsyncDir } from "../sys/atomic-write.js";
import {
  daemonReload,
  enabledStates,
  isEnabled,
  needReload,
  stopAndDisable,
  systemctl,
  systemdBooted,
} from "../sys/systemd.js";
import { contentDiff, differingContent } from "./file-content.js";
import { type CheckResult, ensure, type Kind, type KindContext, type WatchSpec } from "./kind.js";

export interface UnitParams {
  ensure: "present" | "absent";
  content_sha256?: string;
  enabled?: boolean;
}

export const UNIT_DIR = "/etc/systemd/system";
const SUFFIXES = "service|socket|timer|target|mount|automount|path|slice|swap";
const DROPIN = /^(.+)\.d\/[^/]+\.conf$/;

export const spec: KindSpec = {
  type: "systemd_unit",
  description:
    "A systemd unit file in /etc/systemd/system (name `app.service`), or a drop-in that extends a unit (name `nginx.service.d/override.conf`).",
  notes: `The file is written atomically, mode 0644, owned by root; its content comes from \`content\`,
\`source\` or \`template\`, and a change shows as a diff. After a unit file or drop-in changed (or
was removed), systemd is reloaded once per run: before the first service resource that starts or
restarts anything (the service kind does it), or at the end of the run when none did, so
\`systemctl show -p NeedDaemonReload\` is \`no\` after every run. A run that finds a managed unit
with \`NeedDaemonReload=yes\` (a run interrupted before its reload, a hand edit) reloads too.
\`enabled\` (units only) is read with \`systemctl is-enabled\`, once for all units of a run, and set
with \`systemctl enable\`/\`disable\`. \`ensure: absent\` stops and disables a unit (a drop-in is
only removed, and its \`.d\` directory when empty), removes the file, and reloads. Every service
resource of the unit (\`service: app\` or \`service: app.service\`, and for a drop-in the unit it
extends) comes after it; notify the service to restart it when the unit changes.`,
  name: {
    title: "Unit",
    description: "The unit file's name, or UNIT.d/NAME.conf for a drop-in.",
    type: "string",
    pattern: `^[A-Za-z0-9@:_.\\\\-]+\\.(${SUFFIXES})(\\.d/[A-Za-z0-9@:_.\\\\-]+\\.conf)?$`,
    "x-hint": 'a unit file name such as "app.service", or a drop-in such as "nginx.service.d/limits.conf"',
  },
  attributes: {
    ensure: ensure(["present", "absent"], "`present` (written) or `absent` (stopped, disabled and removed)."),
    content: { title: "Content", description: "The unit file's exact content.", type: "string" },
    source: {
      title: "Source",
      description:
        "A file of the recipe, relative to its folder (e.g. files/app.service), copied byte for byte.",
      type: "string",
      minLength: 1,
    },
    template: {
      title: "Template",
      description: "A Liquid template in the recipe's templates/ folder, rendered with vars, facts and node.",
      type: "string",
      minLength: 1,
    },
    enabled: {
      title: "Enabled",
      description:
        "Whether the unit starts at boot (systemctl enable / disable). Unset: not managed. Not for drop-ins.",
      type: "boolean",
    },
  },
  required: ["ensure"],
  content: { param: "content_sha256", content: "content", source: "source", template: "template" },
  rules: [
    { key: "content", only_when: "ensure", is: ["present"] },
    { key: "source", only_when: "ensure", is: ["present"] },
    { key: "template", only_when: "ensure", is: ["present"] },
    { key: "enabled", only_when: "ensure", is: ["present"] },
  ],
  edges: [{ before: "service", names: ["{unit}", "{stem}"] }],
};

/** Per run: install states read in one go (null: systemd is not running), and units changed since. */
interface Prefetched {
  enabled: Map<string, string> | null;
  touched: Set<string>;
}

const unitOf = (name: string) => DROPIN.exec(name)?.[1] ?? name;
const pathOf = (name: string) => join(UNIT_DIR, name);

async function enabledState(unit: string, ctx: KindContext): Promise<string> {
  const pf = ctx.prefetched as Prefetched | undefined;
  const known = pf && !pf.touched.has(unit) ? pf.enabled?.get(unit) : undefined;
  return known ?? (await enabledStates([unit], ctx.signal)).get(unit)!;
}

function refuse(r: CatalogResource, why: string): TendError {
  return new TendError("TEND_E_SYSTEMD_UNIT", `${r.id}: ${why}`);
}

async function check(r: CatalogResource, ctx: KindContext): Promise<CheckResult> {
  const p = r.params as unknown as UnitParams;
  const path = pathOf(r.name);
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st && !st.isFile())
    throw refuse(
      r,
      `${path} is not a regular file (a symlink: a masked or linked unit); unmask or remove it first.`,
    );
  if (p.ensure === "absent")
    return { changes: st ? [{ property: "ensure", from: "present", to: "absent" }] : [] };
  if (!p.content_sha256)
    throw refuse(r, "a present unit needs its content: give content, source or template.");
  const dropin = DROPIN.test(r.name);
  if (dropin && p.enabled !== undefined)
    throw refuse(r, "a drop-in is not enabled or disabled; set enabled on the unit it extends.");
  const changes: Change[] = [];
  let diff: string | null = null;
  if (!st) {
    changes.push({ property: "ensure", from: "absent", to: "present" });
    diff = await contentDiff(path, null, await ctx.content(p.content_sha256));
  } else {
    const have = differingContent(path, p.content_sha256);
    if (have) {
      changes.push({ property: "content", from: `sha256:${have.sha256}`, to: `sha256:${p.content_sha256}` });
      diff = await contentDiff(path, have.data ?? { size: have.size }, await ctx.content(p.content_sha256));
    }
  }
  if (p.enabled !== undefined) {
    // A unit not written yet (a plan) is "not-found": it would be enabled once written.
    const state = await enabledState(r.name, ctx);
    const on = isEnabled({ UnitFileState: state });
    if (p.enabled && !on) changes.push({ property: "enabled", from: state, to: true });
    if (!p.enabled && ["enabled", "enabled-runtime"].includes(state))
      changes.push({ property: "enabled", from: state, to: false });
  }
  return { changes, diff };
}

async function apply(r: CatalogResource, changes: Change[], ctx: KindContext): Promise<undefined> {
  const p = r.params as unknown as UnitParams;
  const path = pathOf(r.name);
  const props = new Set(changes.map((c) => c.property));
  (ctx.prefetched as Prefetched | undefined)?.touched.add(r.name);
  const booted = systemdBooted();
  if (p.ensure === "absent") {
    if (!DROPIN.test(r.name) && booted) await stopAndDisable(r.name, ctx.signal);
    await fsp.unlink(path);
    // A drop-in's directory goes too when it is left empty (rmdir refuses otherwise).
    const gone =
      DROPIN.test(r.name) &&
      (await fsp.rmdir(dirname(path)).then(
        () => true,
        () => false,
      ));
    await fsyncDir(gone ? UNIT_DIR : dirname(path));
  } else {
    if (props.has("ensure") || props.has("content")) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
      await atomicWrite(path, await ctx.content(p.content_sha256!), { mode: 0o644, uid: 0, gid: 0 });
    }
    // --no-reload: the run's one reload (below, or the service kind's) covers this too.
    if (props.has("enabled"))
      await systemctl([p.enabled ? "enable" : "disable", "--no-reload", "--", r.name], ctx.signal);
  }
  if (booted) ctx.run.daemonReloadNeeded = true;
  return undefined;
}

/**
 * One `systemctl is-enabled` for every unit whose enablement is managed; and, in an apply run,
 * a reload owed from before (a managed unit systemd has not reloaded) is noted for this run's.
 */
async function prefetch(
  resources: CatalogResource[],
  ctx: Omit<KindContext, "prefetched">,
): Promise<Prefetched> {
  const mine = resources.filter((r) => r.type === "systemd_unit" && r.params.ensure === "present");
  if (!systemdBooted()) return { enabled: null, touched: new Set() };
  const managed = mine.filter((r) => r.params.enabled !== undefined).map((r) => r.name);
  const enabled = await enabledStates(managed, ctx.signal);
  if (!ctx.noop) {
    const units = [...new Set(mine.map((r) => unitOf(r.name)))];
    if ((await needReload(units, ctx.signal)).length > 0) ctx.run.daemonReloadNeeded = true;
  }
  return { enabled, touched: new Set() };
}

/** The end of an apply run: the reload still owed, if no service resource did it. */
async function settle(_prefetched: unknown, ctx: Omit<KindContext, "prefetched">): Promise<void> {
  if (ctx.run.daemonReloadNeeded === true && systemdBooted()) await daemonReload(ctx.run, ctx.signal);
}

/** Watch mode: the unit file or drop-in (its enablement waits for the next scheduled run). */
function watch(r: CatalogResource): WatchSpec {
  return { paths: [pathOf(r.name)] };
}

export const systemdUnit: Kind = { type: "systemd_unit", spec, prefetch, check, apply, settle, watch };

/**
 * `service` (systemd): running or stopped, enabled or not; restarted on notify. Before any start or
 * restart, `systemctl daemon-reload` runs when the unit says NeedDaemonReload=yes or a file resource
 * wrote a unit file in this run (`ctx.run.daemonReloadNeeded`) — so once per run in the usual case.
 * A start is verified: a unit that is not active for the whole settle window (default 3 s) fails,
 * with its last journal lines in the error. Reads are batched: one `systemctl show` for every
 * service of the run, used while nothing in the run has changed anything (a no-op run: always);
 * after a change, each service is read on its own.
 */
import { TendError } from "../../core/errors.js";
import type { KindSpec } from "../../core/kind-spec.js";
import type { CatalogResource, Change } from "../../core/types.js";
import {
  isActive,
  isEnabled,
  journalTail,
  show,
  showMany,
  systemctl,
  type UnitState,
  unitName,
} from "../sys/systemd.js";
import {
  type ApplyResult,
  type CheckResult,
  changesStarted,
  ensure,
  type Kind,
  type KindContext,
  type WatchSpec,
} from "./kind.js";

export interface ServiceParams {
  ensure?: "running" | "stopped";
  enabled?: boolean;
}

export const spec: KindSpec = {
  type: "service",
  description: 'A systemd unit. The name is the unit name; ".service" is added when it has no unit suffix.',
  notes: `Runs \`systemctl daemon-reload\` before a start or restart when the unit needs it (a resource
wrote a unit file in this run, or \`NeedDaemonReload=yes\`): once per run in the usual case. A
started unit must stay active for 3 s, or the resource fails with the unit's last journal lines. A
notification restarts a unit that should run (or runs, when \`ensure\` is unset). A service comes
after the file resource of its unit file, when one is declared. Every service of a run is read with
one \`systemctl show\`, used while nothing in the run has changed anything (a no-op run: always); after
a change, each is read on its own.`,
  name: {
    title: "Unit",
    description: "The unit name; .service is added when no suffix is given.",
    type: "string",
    pattern: "^[A-Za-z0-9@:._\\\\-]+$",
    "x-hint": 'a unit name such as "nginx" or "nginx.service"',
  },
  attributes: {
    ensure: ensure(
      ["running", "stopped"],
      "`running` (started, and verified to stay up) or `stopped`. Unset: the state is not managed.",
      null,
    ),
    enabled: {
      title: "Enabled",
      description: "Whether the unit starts at boot (systemctl enable / disable). Unset: not managed.",
      type: "boolean",
    },
  },
  edges: [
    {
      after: "file",
      names: ["/etc/systemd/system/{unit}", "/lib/systemd/system/{unit}", "/usr/lib/systemd/system/{unit}"],
    },
  ],
};

/** How long a started unit must stay active to count as running; `ctx.run["service.settle_ms"]` overrides. */
export const DEFAULT_SETTLE_MS = 3000;

/** Every service's state from one `systemctl show`, and how many changes the run had started then. */
interface Prefetched {
  states: Map<string, UnitState> | null;
  changes: number;
}

async function prefetch(
  resources: CatalogResource[],
  ctx: Omit<KindContext, "prefetched">,
): Promise<Prefetched> {
  const units = [...new Set(resources.filter((r) => r.type === "service").map((r) => unitName(r.name)))];
  // A failed batch (no systemd, say) is not an error here: each resource reads its own, and says why.
  const states = await showMany(units, ctx.signal).catch(() => null);
  return { states, changes: changesStarted(ctx.run) };
}

/** The unit's state: the batch's while nothing has changed since it was read, else its own. */
function prefetchedState(unit: string, ctx: KindContext): UnitState | undefined {
  const pf = ctx.prefetched as Prefetched | undefined;
  return pf?.states && pf.changes === changesStarted(ctx.run) ? pf.states.get(unit) : undefined;
}

/** A change by this kind ends the batch's use at once, whoever drives the kind (the engine also counts). */
function forgetBatch(ctx: KindContext): void {
  const pf = ctx.prefetched as Prefetched | undefined;
  if (pf) pf.states = null;
}

async function state(unit: string, r: CatalogResource, ctx: KindContext): Promise<UnitState> {
  const s = prefetchedState(unit, ctx) ?? (await show(unit, ctx.signal));
  if (s.LoadState === "not-found") {
    // A unit file written earlier in this run (or not yet, in a plan) is found after a daemon-reload.
    if (ctx.noop || ctx.run.daemonReloadNeeded === true)
      return { ...s, ActiveState: "inactive", UnitFileState: "absent" };
    throw new TendError("TEND_E_SERVICE_NOT_FOUND", `${r.id}: systemd has no unit ${unit}.`);
  }
  return s;
}

async function check(r: CatalogResource, ctx: KindContext): Promise<CheckResult> {
  const p = r.params as unknown as ServiceParams;
  const s = await state(unitName(r.name), r, ctx);
  const changes: Change[] = [];
  if (p.ensure === "running" && !isActive(s)) {
    changes.push({ property: "ensure", from: s.ActiveState ?? "unknown", to: "running" });
  }
  if (p.ensure === "stopped" && isActive(s))
    changes.push({ property: "ensure", from: "running", to: "stopped" });
  if (p.enabled === true && !isEnabled(s))
    changes.push({ property: "enabled", from: s.UnitFileState ?? null, to: true });
  if (p.enabled === false && ["enabled", "enabled-runtime"].includes(s.UnitFileState ?? "")) {
    changes.push({ property: "enabled", from: s.UnitFileState ?? null, to: false });
  }
  return { changes };
}

async function reloadIfNeeded(unit: string, ctx: KindContext): Promise<void> {
  const s = await show(unit, ctx.signal);
  if (ctx.run.daemonReloadNeeded !== true && s.NeedDaemonReload !== "yes" && s.LoadState !== "not-found")
    return;
  await systemctl(["daemon-reload"], ctx.signal);
  ctx.run.daemonReloadNeeded = false;
  const n = ctx.run["service.daemon_reloads"];
  ctx.run["service.daemon_reloads"] = (typeof n === "number" ? n : 0) + 1;
}

/** Fail unless the unit stays active for the settle window. */
async function verifyRunning(unit: string, r: CatalogResource, ctx: KindContext): Promise<void> {
  const v = ctx.run["service.settle_ms"];
  const settle = typeof v === "number" ? v : DEFAULT_SETTLE_MS;
  const until = Date.now() + settle;
  for (;;) {
    const s = await show(unit, ctx.signal);
    if (!isActive(s) && s.ActiveState !== "activating") {
      const journal = await journalTail(unit, 20, ctx.signal);
      throw new TendError(
        "TEND_E_SERVICE_FAILED",
        `${r.id}: ${unit} did not stay running (${s.ActiveState}/${s.SubState}).${journal ? `\nLast journal lines:\n${journal}` : ""}`,
      );
    }
    if (Date.now() >= until) return;
    await new Promise((res) => setTimeout(res, Math.min(250, Math.max(0, until - Date.now()))));
  }
}

async function apply(r: CatalogResource, changes: Change[], ctx: KindContext): Promise<undefined> {
  forgetBatch(ctx);
  const p = r.params as unknown as ServiceParams;
  const unit = unitName(r.name);
  const props = new Set(changes.map((c) => c.property));
  await reloadIfNeeded(unit, ctx);
  if (props.has("enabled")) await systemctl([p.enabled ? "enable" : "disable", "--", unit], ctx.signal);
  if (props.has("ensure")) {
    if (p.ensure === "stopped") await systemctl(["stop", "--", unit], ctx.signal);
    else {
      await systemctl(["start", "--", unit], ctx.signal);
      await verifyRunning(unit, r, ctx);
    }
  }
  return undefined;
}

/** On notify: restart a unit that should run (or runs, when `ensure` is unset); a stopped one stays stopped. */
async function refresh(r: CatalogResource, ctx: KindContext): Promise<ApplyResult | undefined> {
  forgetBatch(ctx);
  const p = r.params as unknown as ServiceParams;
  if (p.ensure === "stopped") return undefined;
  const unit = unitName(r.name);
  if (p.ensure === undefined && !isActive(await show(unit, ctx.signal))) return undefined;
  await reloadIfNeeded(unit, ctx);
  await systemctl(["restart", "--", unit], ctx.signal);
  await verifyRunning(unit, r, ctx);
  return undefined;
}

/**
 * Watch mode: the unit's ActiveState, when the resource manages it (`ensure`). `enabled` alone is
 * not watched: enabling and disabling change symlinks, not the unit's state.
 */
function watch(r: CatalogResource): WatchSpec {
  const p = r.params as unknown as ServiceParams;
  return { units: p.ensure ? [unitName(r.name)] : [] };
}

export const service: Kind = { type: "service", spec, prefetch, check, apply, refresh, watch };

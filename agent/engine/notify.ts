/**
 * Refreshes owed through `notify`: delivered to a target at its turn, once it is settled and
 * healthy, and marked done in the journal only after the refresh ran, so a kill in between leaves
 * it pending for the next run. A target that ran before its notifier (an order the compiler
 * avoids) gets its refresh once, after the walk.
 */
import type { CatalogResource, ResourceReport } from "../../core/types.js";
import { errorText } from "../report.js";
import { type Kind, type KindContext, markChanging } from "../resources/kind.js";
import type { Budget } from "./budget.js";
import type { RunState } from "./run-state.js";

const SETTLED_OK = new Set(["unchanged", "changed", "would-change", "unknown"]);

/** Deliver the refreshes owed to `res` (if any) now that it is settled and healthy. */
export async function deliver(
  run: RunState,
  res: CatalogResource,
  r: ResourceReport,
  kind: Kind,
  b: Budget,
  ctx: KindContext,
): Promise<void> {
  const sources = run.journal.pending.get(res.id);
  if (!sources) return;
  if (!kind.refresh) {
    await run.journal.done(res.id); // nothing to do on a notification for this kind
    return;
  }
  r.changes.push({ property: "refresh", from: null, to: [...sources] });
  if (run.noop) {
    if (r.status === "unchanged") r.status = "would-change";
    return;
  }
  markChanging(ctx.run);
  const result = await b.run(() => kind.refresh!(res, ctx));
  if (result?.output) r.output = r.output ? `${r.output}\n${result.output}` : result.output;
  r.status = "changed";
  await run.journal.done(res.id);
}

/** After the walk: the refreshes owed to resources that ran before their notifier, once each. */
export async function deliverLate(run: RunState): Promise<void> {
  for (const id of new Set(run.late)) {
    const r = run.reports.get(id)!;
    const res = run.resources[run.index.get(id)!]!;
    const kind = run.options.kinds[res.type];
    if (!kind || !SETTLED_OK.has(r.status) || r.changes.some((c) => c.property === "refresh")) continue;
    // A notifier that failed keeps its notification pending, as for a target after it (skipped).
    const sources = run.journal.pending.get(id) ?? [];
    if (sources.some((s) => !SETTLED_OK.has(run.reports.get(s)?.status ?? "unchanged"))) continue;
    const b = run.begin(res);
    try {
      await deliver(run, res, r, kind, b, run.context(b, await run.prefetch(kind, b)));
    } catch (err) {
      r.status = "failed";
      r.error = `refresh failed: ${errorText(err)}`;
    } finally {
      b.dispose();
    }
    run.options.onResource?.(r, res);
  }
}

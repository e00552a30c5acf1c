/**
 * One resource under its time budget: check → (apply → check again) → deliver a refresh owed to
 * it. A kind that throws fails only its own resource, never the run; a kind whose second check
 * still finds changes fails it too (a kind cannot silently lie).
 */
import type { CatalogResource, Change, ResourceReport } from "../../core/types.js";
import { errorText } from "../report.js";
import { type Kind, markChanging } from "../resources/kind.js";
import { shortDigest } from "../store/enforced-digests.js";
import type { Budget } from "./budget.js";
import { deliver } from "./notify.js";
import type { RunState } from "./run-state.js";

/** Settles `r`, the report of `res`; `uncertain`: a plan in which something upstream would change. */
export async function step(
  run: RunState,
  res: CatalogResource,
  r: ResourceReport,
  kind: Kind,
  uncertain: boolean,
): Promise<void> {
  const b = run.begin(res);
  try {
    await converge(run, res, r, kind, b, uncertain);
  } catch (err) {
    // In a plan, a resource after a would-change may fail its check only because that change
    // has not happened: its outcome is unknown, not a failure.
    r.status = uncertain ? "unknown" : "failed";
    r.error = errorText(err);
  } finally {
    b.dispose();
  }
}

async function converge(
  run: RunState,
  res: CatalogResource,
  r: ResourceReport,
  kind: Kind,
  b: Budget,
  uncertain: boolean,
): Promise<void> {
  const ctx = run.context(b, await run.prefetch(kind, b));
  const found = await b.run(() => kind.check(res, ctx));
  if (found.changes.length === 0) {
    r.status = uncertain ? "unknown" : "unchanged";
  } else {
    r.changes = [...found.changes];
    r.diff = found.diff ?? null;
    r.drifted = !uncertain && run.enforced.get(res.id) === shortDigest(res.digest);
    const targets = res.notify.filter((t) => run.index.has(t));
    // Durable before the change starts: a kill after the change cannot lose the notification.
    await run.journal.add(targets, res.id);
    for (const t of targets) if (run.index.get(t)! < run.index.get(res.id)!) run.late.push(t);
    if (run.noop) {
      r.status = uncertain ? "unknown" : "would-change";
    } else {
      markChanging(ctx.run);
      const result = await b.run(() => kind.apply(res, found.changes, ctx));
      if (result?.output) r.output = result.output;
      const after = await b.run(() => kind.check(res, ctx));
      if (after.changes.length > 0) {
        throw new Error(`did not converge: ${describe(after.changes)} still differ after apply`);
      }
      r.status = "changed";
    }
  }
  await deliver(run, res, r, kind, b, ctx);
}

function describe(changes: readonly Change[]): string {
  return changes.map((c) => c.property).join(", ");
}

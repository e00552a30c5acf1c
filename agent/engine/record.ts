/**
 * The end of a run, in this order: the work kinds batched over the run (the file kind's directory
 * fsyncs) is made durable, the notify journal keeps only what is still pending, and then the
 * enforced digests record what is now in sync (drift versus deploy). A plan writes none of it.
 */
import type { CatalogResource } from "../../core/types.js";
import { errorText } from "../report.js";
import { type Enforced, sameEnforced, shortDigest } from "../store/enforced-digests.js";
import { budget } from "./budget.js";
import type { EnforcedDigests } from "./options.js";
import type { RunState } from "./run-state.js";

/** The run's own error (a batch not finished, state not recorded), or null. */
export async function record(run: RunState, digests: EnforcedDigests): Promise<string | null> {
  if (run.noop) {
    await run.journal.close();
    return null;
  }
  let error = await settleKinds(run);
  try {
    // The whole catalog's ids: a targeted run keeps what is pending for the resources it left alone.
    await run.journal.compact(new Set(run.catalog.resources.map((r) => r.id)));
    // When a kind could not finish, the run's changes may not be durable: record nothing.
    const next = error ? null : nextEnforced(run);
    if (next) await digests.save(next);
  } catch (err) {
    error ??= `could not record the run's state in ${run.options.stateDir}: ${errorText(err)}`;
  }
  return error;
}

async function settleKinds(run: RunState): Promise<string | null> {
  let error: string | null = null;
  for (const [type, p] of run.prefetches) {
    const kind = run.options.kinds[type];
    const prefetched = await p.catch(() => undefined);
    if (!kind?.settle || prefetched === undefined) continue;
    const b = budget(run.baseTimeout);
    try {
      await b.run(() => kind.settle!(prefetched, run.context(b, undefined)));
    } catch (err) {
      error ??= `could not finish the ${type} resources' changes: ${errorText(err)}`;
    } finally {
      b.dispose();
    }
  }
  return error;
}

/** The digests to save, or null when they are what was already recorded. */
function nextEnforced(run: RunState): Enforced | null {
  const { enforced, reports } = run;
  // The whole catalog: a resource a targeted run did not walk keeps the digest it had.
  const resources = run.catalog.resources;
  const recorded = (res: CatalogResource): string | undefined => {
    const status = reports.get(res.id)?.status;
    return status === "unchanged" || status === "changed" ? shortDigest(res.digest) : enforced.get(res.id);
  };
  // The common case, a run that enforced what was already recorded, builds no second map.
  let kept = 0;
  let same = true;
  for (const res of resources) {
    const digest = recorded(res);
    if (digest === undefined) continue;
    kept++;
    if (enforced.get(res.id) !== digest) {
      same = false;
      break;
    }
  }
  if (same && kept === enforced.size) return null;
  const next: Enforced = new Map();
  for (const res of resources) {
    const digest = recorded(res);
    if (digest !== undefined) next.set(res.id, digest);
  }
  return sameEnforced(next, enforced) ? null : next;
}

/**
 * The walk: every resource once, in catalog order (the compiler's; the engine never reorders). A
 * resource runs only when nothing it depends on failed or was skipped and the run was not
 * stopped; otherwise it is reported skipped, naming why. Refreshes owed to resources that ran
 * before their notifier are delivered after the walk.
 */
import type { CatalogResource, ResourceReport } from "../../core/types.js";
import { deliverLate } from "./notify.js";
import type { RunState } from "./run-state.js";
import { step } from "./step.js";

export async function walk(run: RunState): Promise<void> {
  for (const res of run.resources) {
    const r = await visit(run, res);
    run.reports.set(res.id, r);
    run.options.onResource?.(r, res);
  }
  await deliverLate(run);
}

async function visit(run: RunState, res: CatalogResource): Promise<ResourceReport> {
  const started = performance.now();
  const r: ResourceReport = {
    id: res.id,
    type: res.type,
    status: "unchanged",
    drifted: false,
    changes: [],
    diff: null,
    error: null,
    duration_ms: 0,
  };
  const ups = (run.upstream.get(res.id) ?? []).map((id) => run.reports.get(id)!).filter(Boolean);
  const blocker = ups.find((u) => u.status === "failed" || u.status === "skipped");
  const kind = run.options.kinds[res.type];
  if (run.options.signal?.aborted) {
    r.status = "skipped";
    r.error = "the run was stopped before this resource";
  } else if (blocker) {
    r.status = "skipped";
    r.error = `${blocker.id} ${blocker.status === "failed" ? "failed" : "was skipped"}`;
  } else if (!kind) {
    r.status = "failed";
    r.error = `this agent has no resource kind "${res.type}"`;
  } else {
    const uncertain = run.noop && ups.some((u) => u.status === "would-change" || u.status === "unknown");
    await step(run, res, r, kind, uncertain);
  }
  r.duration_ms = Math.round((performance.now() - started) * 1000) / 1000;
  return r;
}

/**
 * The health checks, run once the walk is over and the run recorded: in catalog order, each after
 * the resources it requires have settled. A check whose required resource failed or was skipped
 * is skipped (it would only repeat that failure); otherwise its probe runs, and again after
 * `interval` up to `retries` times until it passes. In a plan the probes run too (they only read),
 * but a failing probe behind a resource that would change is `unknown`: the change may fix it.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { CatalogCheck, CheckReport, ResourceReport } from "../../core/types.js";
import { type ProbeResult, probe } from "../sys/probes.js";
import type { RunState } from "./run-state.js";

const PENDING = new Set(["would-change", "unknown"]);

export async function runChecks(run: RunState): Promise<CheckReport[]> {
  const signal = run.options.signal ?? new AbortController().signal;
  const out: CheckReport[] = [];
  for (const check of run.catalog.checks ?? []) {
    const r = await runCheck(run, check, signal);
    out.push(r);
    run.options.onCheck?.(r, check);
  }
  return out;
}

async function runCheck(run: RunState, c: CatalogCheck, signal: AbortSignal): Promise<CheckReport> {
  const started = performance.now();
  const r: CheckReport = {
    id: c.id,
    type: c.type,
    status: "skipped",
    attempts: 0,
    duration_ms: 0,
    reason: "",
  };
  const ups = c.require.map((id) => run.reports.get(id)).filter((u): u is ResourceReport => !!u);
  const blocker = ups.find((u) => u.status === "failed" || u.status === "skipped");
  if (signal.aborted) {
    r.reason = "the run was stopped before this check";
  } else if (blocker) {
    r.reason = `${blocker.id} ${blocker.status === "failed" ? "failed" : "was skipped"}`;
  } else {
    // In a plan, a probe behind a pending change tells only how the box is now: one attempt.
    const pending = run.noop ? ups.find((u) => PENDING.has(u.status)) : undefined;
    const tries = pending ? 1 : c.retries + 1;
    let last: ProbeResult = { ok: false, reason: "" };
    for (let attempt = 1; attempt <= tries && !signal.aborted; attempt++) {
      if (attempt > 1) await sleep(c.interval_ms, undefined, { signal }).catch(() => {});
      if (signal.aborted) break;
      last = await probe(c, signal);
      r.attempts = attempt;
      if (last.ok) break;
    }
    if (signal.aborted && !last.ok) {
      r.reason = "the run was stopped during this check";
    } else {
      const tried =
        r.attempts <= 1
          ? ""
          : last.ok
            ? `, at attempt ${r.attempts} of ${tries}`
            : `, after ${r.attempts} attempts`;
      r.status = last.ok ? "ok" : pending ? "unknown" : "failed";
      r.reason = `${last.reason}${tried}`;
      if (pending && !last.ok)
        r.reason += `; ${pending.id} would change first, so the outcome after apply is unknown`;
      if (!last.ok && last.excerpt) r.excerpt = last.excerpt;
    }
  }
  r.duration_ms = Math.round((performance.now() - started) * 1000) / 1000;
  return r;
}

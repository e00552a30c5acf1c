/**
 * The converge engine: walks a catalog's resources in their (dependency) order and, for each,
 * check → apply → check again, knowing no kind. It owns ordering, noop, notifications, failure
 * isolation, time budgets, drift versus deploy and the report; docs/engine.md is the contract.
 *
 * order.ts walks the catalog, step.ts runs one resource, notify.ts delivers refreshes, record.ts
 * ends an apply run durably, checks.ts probes the health checks (loaded only for a catalog that has
 * some) and report.ts assembles the report; run-state.ts is what they share.
 */
import { mkdir } from "node:fs/promises";
import type { Catalog, Report } from "../../core/types.js";
import { loadEnforced, saveEnforced } from "../store/enforced-digests.js";
import { NotifyJournal } from "../store/notify-journal.js";
import type { EnforcedDigests, EngineOptions } from "./options.js";
import { walk } from "./order.js";
import { record } from "./record.js";
import { assembleReport } from "./report.js";
import { RunState } from "./run-state.js";

export type { EnforcedDigests, EngineOptions, PendingNotifications } from "./options.js";

export async function runCatalog(catalog: Catalog, options: EngineOptions): Promise<Report> {
  const startedAt = new Date();
  const t0 = performance.now();
  const noop = options.noop ?? false;
  const { stateDir } = options;
  // Kinds keep things in state_dir too (the file kind's backups), whichever stores are passed.
  if (!noop) await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const digests: EnforcedDigests = options.enforced ?? {
    load: () => loadEnforced(stateDir),
    save: (enforced) => saveEnforced(stateDir, enforced),
  };
  const enforced = await digests.load();
  const journal = options.journal ?? (await NotifyJournal.load(stateDir, { dry: noop }));
  const run = new RunState(catalog, options, enforced, journal);
  run.watchStop();
  await walk(run);
  run.unwatchStop();
  const error = await record(run, digests);
  // After the record: a check retrying for minutes never delays making the run's changes durable.
  const checks = catalog.checks?.length ? await (await import("./checks.js")).runChecks(run) : undefined;
  return assembleReport(run, { startedAt, t0 }, error, checks);
}

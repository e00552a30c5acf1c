/**
 * One fleet search, as the API (`GET /api/v1/nodes?where=`) and the CLI (`tend server nodes
 * --where`) run it: parse, then the storage's fleet query with the stale cut and the live commit.
 */
import type { Problem } from "../../core/errors.js";
import { HttpError } from "../http.js";
import type { Storage } from "../storage/types.js";
import type { FleetRow, StaleCut } from "../storage/ui-types.js";
import { parseSearch, SearchError } from "./parse.js";

/** Stale: no report for more than two agent intervals (the fleet page's rule). */
export function staleCut(now: number, agentIntervalMs: number): StaleCut {
  const ms = now - 2 * agentIntervalMs;
  return { ms, iso: new Date(ms).toISOString() };
}

/** Every node the search selects (every node without one), by name. */
export async function searchNodes(
  storage: Storage,
  where: string | undefined,
  stale: StaleCut,
  limit = 100_000,
): Promise<{ rows: FleetRow[]; total: number }> {
  const expr = where?.trim() ? parseSearch(where) : undefined;
  return storage.ui.fleet({
    where: expr,
    live: expr ? await storage.liveCommit() : null,
    stale,
    sort: "name",
    desc: false,
    offset: 0,
    limit,
  });
}

/** A search mistake as the API's 400: the sentence, and the column in `details`. */
export function searchHttpError(err: unknown, field = "where"): unknown {
  if (!(err instanceof SearchError)) return err;
  const detail: Problem = { code: "TEND_E_SEARCH", message: err.hint, field, column: err.position + 1 };
  return new HttpError(400, "TEND_E_SEARCH", err.message, [detail]);
}

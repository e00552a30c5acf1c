/**
 * `tend server nodes [--where SEARCH] [--json]`: the fleet's nodes, or those a fleet search selects
 * (the language of docs/dashboard.md, the same as the API's `?where=` and the fleet page's box),
 * read from the configured database.
 */
import { loadConfig } from "../config.js";
import { searchNodes, staleCut } from "../search/run.js";
import type { FleetRow } from "../storage/ui-types.js";
import { help, parse, withStorage } from "./args.js";

export async function nodesCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { where: { type: "string" }, json: { type: "boolean" } });
  if (values.help) return help();
  const config = loadConfig(values.config as string | undefined);
  const where = values.where as string | undefined;
  const { rows, all } = await withStorage(values, async (s) => {
    const found = await searchNodes(s, where, staleCut(Date.now(), config.agentIntervalMs));
    return {
      rows: found.rows,
      all: where ? (await s.ui.fleetCounts(staleCut(0, 0), null)).nodes : found.total,
    };
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return 0;
  }
  process.stdout.write(table(rows));
  const matched = where ? ` match ${JSON.stringify(where)}` : "";
  process.stdout.write(
    `${rows.length} node${rows.length === 1 ? "" : "s"}${matched}${where ? ` (of ${all})` : ""}\n`,
  );
  return 0;
}

function table(rows: FleetRow[]): string {
  if (rows.length === 0) return "";
  const lines = [["NODE", "STATUS", "LAST RUN", "COMMIT", "DRIFTED", ""]];
  for (const r of rows)
    lines.push([
      r.name,
      r.last_status ?? "none",
      r.last_report_at ?? "never",
      r.last_commit?.slice(0, 7) ?? "-",
      String(r.drifted),
      r.stale ? "stale" : "",
    ]);
  const widths = lines[0]?.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? "").length))) ?? [];
  return `${lines
    .map((l) =>
      l
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")}\n`;
}

/**
 * A parsed search (parse.ts) as a SQL condition on `nodes n`, for SQLite and PostgreSQL alike.
 * Every value the user typed becomes a parameter (`ctx.param`): nothing of the query is ever
 * spliced into the SQL text. Each term is two-valued (never NULL), so `not` means "every other
 * node". Facts come from node_facts (its indexes), resources from report_resources by resource id
 * (indexes of its own, searchIndexes), kept when the row is of the node's latest report.
 */
import { numeric } from "../storage/sql/node-facts.js";
import type { Expr, Literal, Op, ResourceState } from "./parse.js";

export interface SqlContext {
  kind: "sqlite" | "postgres";
  /** Binds a value and returns its placeholder (`$4`). */
  param(value: unknown): string;
  /** The condition "n is stale" (the caller's own placeholders for the cut). */
  stale: string;
  /** The newest valid commit, for `commit = live`. */
  live: string | null;
}

/** Created with the tables (migrate.ts): a resource term reads the rows of one resource id. */
export const searchIndexes = [
  "CREATE INDEX IF NOT EXISTS report_resources_search ON report_resources (resource, status, report_id)",
  `CREATE INDEX IF NOT EXISTS report_resources_drift_search ON report_resources (resource, report_id)
    WHERE drifted = 1`,
];

/** A bare literal that reads as a number compares as one; a quoted one is always text. */
export const literalNumber = (v: Literal): number | null => (v.quoted ? null : numeric(v.text));

/** `*` any run, `?` one character; everything else literal. */
function glob(ctx: SqlContext, column: string, pattern: string): string {
  if (ctx.kind === "sqlite") return `${column} GLOB ${ctx.param(pattern.replace(/\[/g, "[[]"))}`;
  const like = pattern
    .replace(/[\\%_]/g, (c) => `\\${c}`)
    .replace(/\*/g, "%")
    .replace(/\?/g, "_");
  return `${column} LIKE ${ctx.param(like)}`;
}

const sure = (cond: string) => `(CASE WHEN ${cond} THEN 1 ELSE 0 END = 1)`;
const sqlOp: Record<Exclude<Op, "~" | "!~" | "!=">, string> = {
  "=": "=",
  "<": "<",
  ">": ">",
  "<=": "<=",
  ">=": ">=",
};
const negated = (op: Op): boolean => op === "!=" || op === "!~";
const positive = (op: Op): Exclude<Op, "!=" | "!~"> => (op === "!=" ? "=" : op === "!~" ? "~" : op);

const stateSql: Record<ResourceState, string> = {
  changed: "rr.status IN ('changed', 'would-change')",
  failed: "rr.status = 'failed'",
  drifted: "rr.drifted = 1",
  skipped: "rr.status = 'skipped'",
  unknown: "rr.status = 'unknown'",
};

export function searchSql(e: Expr, ctx: SqlContext): string {
  switch (e.t) {
    case "and":
    case "or":
      return `(${searchSql(e.a, ctx)} ${e.t.toUpperCase()} ${searchSql(e.b, ctx)})`;
    case "not":
      return `(NOT ${searchSql(e.a, ctx)})`;
    case "flag":
      if (e.flag === "stale") return sure(ctx.stale);
      if (e.flag === "failing") return sure("n.last_status = 'failed'");
      return "EXISTS (SELECT 1 FROM report_resources rr WHERE rr.report_id = n.last_report_id AND rr.drifted = 1)";
    case "resource": {
      const id = `${e.kind}:${e.title}`;
      const match = e.glob ? glob(ctx, "rr.resource", id) : `rr.resource = ${ctx.param(id)}`;
      // Driven from the resource (report_resources_search or _drift_search), not probed per node.
      const reports = `SELECT rr.report_id FROM report_resources rr WHERE ${match} AND ${stateSql[e.state]}`;
      return `(n.last_report_id IS NOT NULL AND n.last_report_id IN (${reports}))`;
    }
    case "field": {
      const op = positive(e.op);
      let cond: string;
      if (e.field === "name") {
        cond = op === "~" ? glob(ctx, "n.name", e.value.text) : `n.name = ${ctx.param(e.value.text)}`;
      } else if (e.field === "commit") {
        const live = e.value.text === "live" && !e.value.quoted;
        cond = live
          ? sure(`n.last_commit = ${ctx.param(ctx.live ?? "")}`)
          : sure(`SUBSTR(n.last_commit, 1, ${e.value.text.length}) = ${ctx.param(e.value.text)}`);
      } else {
        cond =
          e.value.text === "none"
            ? "n.last_status IS NULL"
            : sure(`n.last_status = ${ctx.param(e.value.text)}`);
      }
      return negated(e.op) ? `(NOT ${cond})` : cond;
    }
    case "fact": {
      const op = positive(e.op);
      const n = literalNumber(e.value);
      let cond: string;
      if (op === "~") cond = glob(ctx, "f.value", e.value.text);
      else if (n !== null) cond = `f.num ${sqlOp[op]} ${ctx.param(n)}`;
      else cond = `f.value ${sqlOp[op]} ${ctx.param(e.value.text)}`;
      const inSql = `n.name IN (SELECT f.node FROM node_facts f WHERE f.path = ${ctx.param(e.path)} AND ${cond})`;
      return negated(e.op) ? `(NOT ${inSql})` : inSql;
    }
  }
}

/**
 * The audit log: who did what, to which nodes, when and from where. Append-only: this module has
 * the only statements that touch the table, an INSERT and SELECTs, and triggers in both databases
 * refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL), so even a bug elsewhere cannot rewrite it.
 */
import type { Driver } from "../driver.js";
import { auditEntry } from "../rows.js";
import type { AuditEntry, AuditQuery } from "../types.js";

const refusal = "the audit log is append-only";

/** The table and its guards, per database (an identity column is spelt differently). */
export function auditSchema(kind: "sqlite" | "postgres"): string[] {
  const columns = `at BIGINT NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL,
    action TEXT NOT NULL, nodes TEXT NOT NULL, details TEXT NOT NULL, address TEXT`;
  if (kind === "sqlite") {
    return [
      `CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT, ${columns})`,
      `CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
       BEGIN SELECT RAISE(ABORT, '${refusal}'); END`,
      `CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
       BEGIN SELECT RAISE(ABORT, '${refusal}'); END`,
    ];
  }
  return [
    `CREATE TABLE IF NOT EXISTS audit (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ${columns})`,
    `CREATE OR REPLACE FUNCTION tend_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
     $$ BEGIN RAISE EXCEPTION '${refusal}'; END $$`,
    `DO $$ BEGIN
       IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'audit_append_only'
                      AND tgrelid = 'audit'::regclass) THEN
         CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
           FOR EACH ROW EXECUTE FUNCTION tend_audit_append_only();
         CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
           FOR EACH STATEMENT EXECUTE FUNCTION tend_audit_append_only();
       END IF;
     END $$`,
  ];
}

export async function appendAudit(db: Driver, e: Omit<AuditEntry, "id">): Promise<number> {
  const [r] = await db.query(
    `INSERT INTO audit (at, actor, role, action, nodes, details, address)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
    [e.at, e.actor, e.role, e.action, JSON.stringify(e.nodes), JSON.stringify(e.details), e.address],
  );
  return Number(r?.id);
}

/** Newest first; `before` (an id) pages back. */
export async function readAudit(db: Driver, q: AuditQuery): Promise<AuditEntry[]> {
  const rows = await db.query(
    `SELECT * FROM audit WHERE ($1 = 0 OR id < $1) AND ($2 = '' OR action = $2)
     ORDER BY id DESC LIMIT $3`,
    [q.before ?? 0, q.action ?? "", q.limit],
  );
  return rows.map(auditEntry);
}

/**
 * Creates or upgrades the tables at start. Tables are created when missing; columns added since a
 * table first shipped are added when missing (PostgreSQL says `ADD COLUMN IF NOT EXISTS`; SQLite
 * cannot, so its columns are read first). Every statement is idempotent: several servers on one
 * PostgreSQL run them under one advisory lock (postgres.ts).
 */
import { searchIndexes } from "../search/sql.js";
import { type Driver, schemaStatements } from "./driver.js";
import { alertNodeColumns, alertSchemaStatements } from "./sql/alert-conditions.js";
import { auditSchema } from "./sql/audit.js";
import { branchCommitsSchema } from "./sql/commits.js";
import { environmentsSchema } from "./sql/environments.js";
import { fillNodeFacts, nodeFactsSchema } from "./sql/node-facts.js";
import { rolloutStatements } from "./sql/rollouts.js";
import { signalStatements } from "./sql/signals.js";
import { timelineSchema } from "./sql/timeline.js";
import { usersSchema } from "./sql/users.js";
import { uiSchemaStatements } from "./ui.js";

/** Columns added after their table shipped: existing databases get them at the next start. */
const addedColumns = [
  // An admin token's role (NULL: a token from before roles, an admin's).
  { table: "tokens", column: "role", type: "TEXT" },
  // Who opened a dashboard session (NULL: a session from before roles; it opens nothing).
  { table: "sessions", column: "principal", type: "TEXT" },
  ...alertNodeColumns,
];

const addColumn = (c: (typeof addedColumns)[number], ifMissing: string) =>
  `ALTER TABLE ${c.table} ADD COLUMN ${ifMissing}${c.column} ${c.type}`;

export async function migrate(db: Driver): Promise<void> {
  const create = [
    ...schemaStatements,
    ...uiSchemaStatements,
    ...usersSchema,
    ...auditSchema(db.kind),
    ...signalStatements(db.kind),
    ...alertSchemaStatements,
    ...branchCommitsSchema,
    ...environmentsSchema,
    ...rolloutStatements(db.kind),
    ...nodeFactsSchema(db.kind),
    ...searchIndexes,
    ...timelineSchema,
  ];
  if (db.kind === "postgres") {
    await db.migrate([...create, ...addedColumns.map((c) => addColumn(c, "IF NOT EXISTS "))]);
    await fillNodeFacts(db);
    return;
  }
  await db.migrate(create);
  const missing: string[] = [];
  for (const c of addedColumns) {
    const columns = await db.query(`SELECT name FROM pragma_table_info('${c.table}')`);
    if (!columns.some((r) => r.name === c.column)) missing.push(addColumn(c, ""));
  }
  if (missing.length > 0) await db.migrate(missing);
  await fillNodeFacts(db);
}

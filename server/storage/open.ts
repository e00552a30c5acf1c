/** The storage the configuration names: SQLite in the data folder, or PostgreSQL. */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { ServerConfig } from "../config.js";
import { openPostgres } from "./postgres.js";
import { openSqlite } from "./sqlite.js";
import type { Storage } from "./types.js";

export async function openStorage(config: ServerConfig): Promise<Storage> {
  if (config.database === "sqlite") {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    return openSqlite(join(config.dataDir, "tend.db"));
  }
  return openPostgres({ url: config.database, schema: config.databaseSchema });
}

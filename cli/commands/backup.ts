/**
 * `tend backup list [PATH]` and `tend backup restore PATH [--at ID]`: the content file resources
 * replaced or removed, kept in state_dir/backups. A restore is itself backed up first, so it can be
 * undone the same way.
 */
import { lstatSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { type BackupRecord, BackupStore } from "../../agent/store/file-backups.js";
import { atomicWrite } from "../../agent/sys/atomic-write.js";
import { TendError } from "../../core/errors.js";

const USAGE = `usage: tend backup list [PATH] [--state-dir DIR] [--json]
       tend backup restore PATH [--at ID] [--state-dir DIR]

  list      backups, newest first (of PATH only, when given)
  restore   put a backup back at PATH: the newest one, or the one --at ID names (an ID prefix is enough)
  --state-dir DIR   where tend keeps its state (default /var/lib/tend)`;

function usage(message: string): TendError {
  return new TendError("TEND_E_USAGE", `${message}\n${USAGE}`);
}

function formatList(records: BackupRecord[]): string {
  if (records.length === 0) return "no backups\n";
  const lines = records.map(
    (r) =>
      `${r.id}  ${r.time}  ${String(r.size).padStart(8)}  ${(r.mode & 0o7777).toString(8).padStart(4, "0")}  ${r.path}`,
  );
  return `${["ID".padEnd(12), "TIME".padEnd(24), "    SIZE", "MODE", "PATH"].join("  ")}\n${lines.join("\n")}\n`;
}

async function restore(store: BackupStore, path: string, at: string | undefined): Promise<string> {
  const records = store.list(path);
  const record = at ? records.find((r) => r.sha256.startsWith(at) || r.id === at) : records[0];
  if (!record) {
    throw new TendError(
      "TEND_E_BACKUP_NOT_FOUND",
      at ? `no backup ${at} of ${path}; \`tend backup list ${path}\` shows them.` : `no backup of ${path}.`,
    );
  }
  const data = await store.read(record);
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st?.isFile()) {
    const now = readFileSync(path);
    if (
      now.equals(data) &&
      (st.mode & 0o7777) === record.mode &&
      st.uid === record.uid &&
      st.gid === record.gid
    ) {
      return `${path} already has the content of ${record.id}\n`;
    }
    await store.save(path, now, st);
  }
  await atomicWrite(path, data, { mode: record.mode, uid: record.uid, gid: record.gid });
  return `restored ${path} from ${record.id} (${record.time})\n`;
}

export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  const parse = (a: string[]) =>
    parseArgs({
      args: a,
      allowPositionals: true,
      options: {
        "state-dir": { type: "string", default: "/var/lib/tend" },
        at: { type: "string" },
        json: { type: "boolean", default: false },
        debug: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  try {
    parsed = parse(argv);
  } catch (err) {
    throw usage((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [sub, path, ...extra] = positionals;
  const store = new BackupStore(values["state-dir"]);
  if (extra.length > 0) throw usage(`unexpected argument "${extra[0]}"`);
  switch (sub) {
    case "list": {
      if (values.at) throw usage("--at goes with restore");
      const records = store.list(path ? resolve(path) : undefined);
      process.stdout.write(values.json ? `${JSON.stringify(records, null, 2)}\n` : formatList(records));
      return 0;
    }
    case "restore":
      if (!path) throw usage("restore needs the PATH of the file to restore");
      process.stdout.write(await restore(store, resolve(path), values.at));
      return 0;
    default:
      throw usage(sub ? `unknown backup command "${sub}"` : "say list or restore");
  }
}

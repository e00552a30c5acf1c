/**
 * Runs inside a test box for bench/kinds-check.ts: converges N resources of each kind once, then
 * times (CPU) the no-op check as the engine runs it (one prefetch, then check per resource, noop) over
 * several rounds, and prints per kind the median CPU microseconds per resource, as JSON.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { kinds } from "../agent/resources/index.js";
import { markChanging } from "../agent/resources/kind.js";
import type { CatalogResource, Json, ResourceType } from "../core/types.js";
import { Contents, context, resource } from "../test/helpers/kind-harness.js";
import { sysctlParams } from "./box-sysctl.js";

const n = Number(process.env.N ?? 200);
const rounds = Number(process.env.ROUNDS ?? 7);
const stateDir = "/var/lib/tend-bench";
const contents = new Contents();

function workload(): Record<string, CatalogResource[]> {
  mkdirSync("/srv/bench", { recursive: true });
  const text = `${"x".repeat(1023)}\n`;
  const sha = contents.add(text);
  const lines = `${Array.from({ length: 20 }, (_, i) => `setting_${i} = ${i}`).join("\n")}\n`;
  const pub = process.env.BENCH_PUB!;
  const w: Record<string, CatalogResource[]> = {
    file: [],
    line: [],
    cron: [],
    sysctl: [],
    authorized_key: [],
    apt_repository: [],
    archive: [],
    systemd_unit: [],
  };
  // Half the archives saved as a file (hashed each check), half extracted (a marker read).
  const served = process.env.ARCHIVE_URL!;
  const unit = contents.add(
    "[Unit]\nDescription=tend bench\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
  );
  for (let i = 0; i < n; i++) {
    w.file!.push(
      resource("file", `/srv/bench/file-${i}`, { ensure: "file", content_sha256: sha, mode: "0644" }),
    );
    writeFileSync(`/srv/bench/line-${i}`, lines);
    w.line!.push(
      resource("line", `line-${i}`, {
        ensure: "present",
        path: `/srv/bench/line-${i}`,
        text: "setting_7 = 7",
      }),
    );
    w.cron!.push(
      resource("cron", `bench-${i}`, {
        ensure: "present",
        user: "root",
        schedule: "*/5 * * * *",
        command: `/bin/true ${i}`,
      }),
    );
    w.authorized_key!.push(
      resource("authorized_key", `key-${i}`, { ensure: "present", user: `bench${i}`, key: pub }),
    );
    const extract = i % 2 === 1;
    w.archive!.push(
      resource("archive", `/srv/bench/archive-${i}`, {
        url: `${served}/${extract ? "app.tgz" : "blob"}`,
        sha256: (extract ? process.env.TGZ_SHA : process.env.BLOB_SHA)!,
        extract,
      }),
    );
    // Half with their enablement managed: one `systemctl is-enabled` for all of them per run.
    w.systemd_unit!.push(
      resource("systemd_unit", `tendbench-${i}.service`, {
        ensure: "present",
        content_sha256: unit,
        ...(i % 2 === 1 ? { enabled: true } : {}),
      }),
    );
  }
  for (let i = 0; i < n; i++) execFileSync("useradd", ["-m", `bench${i}`]);
  for (const [name, value] of sysctlParams(n))
    w.sysctl!.push(resource("sysctl", name, { ensure: "present", value }));
  const keySha = contents.add(readFileSync("/root/repo-key.asc"));
  for (let i = 0; i < Number(process.env.N_APT ?? 20); i++)
    w.apt_repository!.push(
      resource("apt_repository", `bench-${i}`, {
        ensure: "present",
        uris: process.env.REPO_URL!,
        suites: "stable",
        components: "main",
        key_sha256: keySha,
        fingerprint: process.env.REPO_FPR!,
      } as Record<string, Json>),
    );
  return w;
}

async function converge(type: string, rs: CatalogResource[]): Promise<void> {
  const kind = kinds[type as ResourceType];
  // One run's scratch, with the changes counted as the engine counts them (a prefetch is trusted
  // only while nothing has changed since).
  const base = { stateDir, contents, run: {} };
  const prefetched = await kind.prefetch?.(rs, context(base));
  for (const r of rs) {
    const ctx = context({ ...base, prefetched });
    const { changes } = await kind.check(r, ctx);
    if (changes.length) {
      markChanging(base.run);
      await kind.apply(r, changes, ctx);
    }
    if ((await kind.check(r, ctx)).changes.length) throw new Error(`${r.id} did not converge`);
  }
}

async function noopRound(type: string, rs: CatalogResource[]): Promise<number> {
  const kind = kinds[type as ResourceType];
  const base = { stateDir, contents, noop: true };
  // CPU time (user + system) of this process: less at the mercy of other work on the machine than wall time.
  const start = process.cpuUsage();
  const prefetched = await kind.prefetch?.(rs, context(base));
  for (const r of rs) {
    const { changes } = await kind.check(r, context({ ...base, prefetched }));
    if (changes.length) throw new Error(`${r.id} is not in sync: ${JSON.stringify(changes)}`);
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / rs.length;
}

const only = process.env.KINDS?.split(",");
const w = Object.fromEntries(
  Object.entries(workload()).filter(([type]) => !only || type === "file" || only.includes(type)),
);
const out: Record<string, { resources: number; us_per_resource: number }> = {};
for (const [type, rs] of Object.entries(w)) await converge(type, rs);
// Rounds interleaved across kinds, so that a busy moment of the machine weighs on all of them.
const times: Record<string, number[]> = Object.fromEntries(Object.keys(w).map((type) => [type, []]));
for (let i = 0; i < rounds; i++)
  for (const [type, rs] of Object.entries(w)) times[type]!.push(await noopRound(type, rs));
for (const [type, rs] of Object.entries(w)) {
  const sorted = times[type]!.sort((a, b) => a - b);
  out[type] = { resources: rs.length, us_per_resource: Math.round(sorted[Math.floor(sorted.length / 2)]!) };
}
process.stdout.write(`${JSON.stringify(out)}\n`);

/**
 * The mixed no-op workload of bench/noop.ts (`--mixed`, issue 12): one recipe declaring every
 * resource kind in the proportions of a real server (mostly files; some lines, packages, users,
 * execs, cron jobs, keys, kernel parameters, units; a few repositories, archives and checkouts),
 * converged in a test box (the kinds change what a host must keep) by the built CLI's
 * `tend apply`, then applied RUNS more times with nothing to do. Per kind it prints the median over
 * those runs of the engine's time per resource (the report's duration_ms: the kind's batched
 * prefetch, which its first resource pays, and each check), all in and split into the once-per-run
 * part and each resource's own, relative to `file`'s, beside the whole run's wall time. apt repositories, archives and the git repository are served from here (loopback or a
 * bound directory); the box installs git from the Debian mirror first. Prints, never asserts.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { Box } from "../test/boxes/lib/index.js";
import { serveAptRepo } from "../test/helpers/apt-repo.js";
import { buildCli, fmt, median, repoRoot } from "./lib.js";

/** Resources of each kind per 1,000 (package, service and sysctl capped by what the box has). */
const PER_1000: Record<string, number> = {
  file: 560,
  line: 40,
  package: 30,
  exec: 20,
  cron: 20,
  authorized_key: 20,
  sysctl: 20,
  systemd_unit: 20,
  user: 10,
  group: 10,
  archive: 10,
  git: 10,
  service: 5,
  apt_repository: 2,
};

interface Served {
  aptUrl: string;
  armored: string;
  fingerprint: string;
  blobUrl: string;
  blobSha: string;
  tgzUrl: string;
  tgzSha: string;
  gitRepo: string;
  keys: string[];
}

interface Found {
  packages: string[];
  services: string[];
  sysctl: [string, string][];
}

/** The workload's resources, as recipe items. */
function workload(n: number, s: Served, found: Found): Record<string, unknown>[] {
  const count = (kind: string) => Math.max(1, Math.round(((PER_1000[kind] ?? 0) * n) / 1000));
  const out: Record<string, unknown>[] = [{ file: "/srv/mixed", ensure: "directory" }];
  const range = (k: number) => Array.from({ length: k }, (_, i) => i);
  const groups = count("group");
  const users = count("user");
  for (const i of range(groups)) out.push({ group: `mixgrp${i}` });
  for (const i of range(users))
    out.push({
      user: `mixusr${i}`,
      home: `/home/mixusr${i}`,
      manage_home: true,
      groups: [`mixgrp${i % groups}`],
    });
  const lines = count("line");
  const confs = Math.ceil(lines / 2);
  const files = Math.max(1, count("file") - 1 - confs);
  const dirs = Math.max(1, Math.round(files / 14));
  for (const d of range(dirs)) out.push({ file: `/srv/mixed/d${d}`, ensure: "directory" });
  for (const i of range(files - dirs)) {
    const path = `/srv/mixed/d${i % dirs}/f${i}`;
    // 75% inline content, 15% a recipe file, 10% a template.
    if (i % 20 < 15) out.push({ file: path, content: `${"x".repeat(1023)}\n`, mode: "0644" });
    else if (i % 20 < 18) out.push({ file: path, source: "files/blob.txt", mode: "0644" });
    else out.push({ file: path, template: "t.liquid", mode: "0644" });
  }
  // Files whose content lines own (a file without content), two lines each.
  for (const i of range(confs)) out.push({ file: `/srv/mixed/c${i}.conf`, ensure: "file" });
  for (const i of range(lines))
    out.push({ line: `setting ${i}`, path: `/srv/mixed/c${i >> 1}.conf`, text: `setting_${i} = on` });
  for (const p of found.packages.slice(0, count("package"))) out.push({ package: p });
  for (const svc of found.services.slice(0, count("service"))) out.push({ service: svc, ensure: "running" });
  const execs = count("exec");
  for (const i of range(execs))
    out.push(
      i % 4 === 3
        ? { exec: `/bin/true unless-${i}`, unless: "/bin/true" }
        : { exec: `/bin/true creates-${i}`, creates: "/srv/mixed/d0" },
    );
  for (const i of range(count("cron")))
    out.push({ cron: `mixed-${i}`, schedule: "*/5 * * * *", command: `/bin/true ${i}` });
  for (const i of range(count("authorized_key")))
    out.push({ authorized_key: `key-${i}`, user: `mixusr${i % users}`, key: s.keys[i] });
  for (const [name, value] of found.sysctl.slice(0, count("sysctl"))) out.push({ sysctl: name, value });
  const unit =
    "[Unit]\nDescription=tend mixed bench\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n";
  for (const i of range(count("systemd_unit")))
    out.push({ systemd_unit: `tendmixed-${i}.service`, content: unit, ...(i % 2 ? { enabled: true } : {}) });
  for (const i of range(count("apt_repository")))
    out.push({
      apt_repository: `mixed-${i}`,
      uris: s.aptUrl,
      suites: "stable",
      components: "main",
      key: s.armored,
      fingerprint: s.fingerprint,
    });
  for (const i of range(count("archive"))) {
    const extract = i % 2 === 1;
    out.push({
      archive: `/srv/mixed/archive-${i}`,
      url: extract ? s.tgzUrl : s.blobUrl,
      sha256: extract ? s.tgzSha : s.blobSha,
      extract,
    });
  }
  for (const i of range(count("git")))
    out.push({ git: `/srv/mixed/git-${i}`, repository: s.gitRepo, revision: "main" });
  return out;
}

/** A recipe repository holding the workload: JSON items are YAML too. */
function writeRepo(dir: string, items: Record<string, unknown>[]): void {
  mkdirSync(join(dir, "mixed", "files"), { recursive: true });
  mkdirSync(join(dir, "mixed", "templates"));
  writeFileSync(join(dir, "nodes.yaml"), '- name: "*"\n  recipes: [mixed]\n');
  writeFileSync(join(dir, "mixed", "files", "blob.txt"), `${"y".repeat(1023)}\n`);
  writeFileSync(join(dir, "mixed", "templates", "t.liquid"), "{{ node }} runs {{ facts.os.id }}\n");
  const body = items.map((r) => `  - ${JSON.stringify(r)}`).join("\n");
  writeFileSync(join(dir, "mixed", "recipe.yaml"), `resources:\n${body}\n`);
}

interface Report {
  status: string;
  duration_ms: number;
  resources: { type: string; status: string; duration_ms: number; error?: string | null }[];
}

export async function mixed(n: number, runs: number): Promise<void> {
  const dir = mkdtempSync("/var/tmp/tend-bench-mixed-");
  const entry = buildCli();
  const sh = (cmd: string, args: string[], cwd = dir) => execFileSync(cmd, args, { cwd, encoding: "utf8" });
  const apt = await serveAptRepo(dir, { name: "tendtest-hello", version: "1.0" });
  const blob = Buffer.alloc(1024, "a");
  const tgz = execFileSync("tar", ["-czf", "-", "-C", repoRoot, "bench"]);
  const http = createServer((req, res) => res.end(req.url === "/app.tgz" ? tgz : blob));
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  // A 20-file repository in a bare remote, cloned by path.
  const gitRepo = join(dir, "app.git");
  const work = join(dir, "app-work");
  sh("git", ["init", "-q", "--bare", "-b", "main", gitRepo]);
  sh("git", ["init", "-q", "-b", "main", work]);
  for (let i = 0; i < 20; i++) writeFileSync(join(work, `f${i}.txt`), `file ${i}\n`.repeat(50));
  sh("git", ["add", "."], work);
  sh("git", ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "bench"], work);
  sh("git", ["push", "-q", gitRepo, "HEAD:main"], work);
  const keys: string[] = [];
  for (let i = 0; i < Math.max(1, Math.round((PER_1000.authorized_key! * n) / 1000)); i++) {
    sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `bench${i}`, "-f", join(dir, `key${i}`)]);
    keys.push(readFileSync(join(dir, `key${i}.pub`), "utf8").trim());
  }
  const served: Served = {
    aptUrl: apt.url,
    armored: apt.key.armored,
    fingerprint: apt.key.fingerprint,
    blobUrl: `${base}/blob`,
    blobSha: sha(blob),
    tgzUrl: `${base}/app.tgz`,
    tgzSha: sha(tgz),
    gitRepo,
    keys,
  };
  const modules = realpathSync(join(repoRoot, "node_modules"));
  const dist = dirname(entry);
  const box = await Box.boot({
    hostname: "bench-mixed",
    binds: [
      { host: process.execPath, box: "/usr/local/bin/node", readOnly: true },
      { host: repoRoot, box: "/opt/tend", readOnly: true },
      ...(modules.startsWith(repoRoot) ? [] : [{ host: modules, box: modules, readOnly: true }]),
      { host: dist, box: dist, readOnly: true },
      { host: dir, box: dir, readOnly: false },
    ],
  });
  try {
    process.stderr.write("installing git in the box…\n");
    await box.run(
      "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q git >/dev/null",
      {
        timeoutMs: 900_000,
      },
    );
    const found = JSON.parse(
      await box.run([
        "node",
        "--import",
        "/opt/tend/node_modules/tsx/dist/esm/index.mjs",
        "/opt/tend/bench/noop-mixed-box.ts",
      ]),
    ) as Found;
    const items = workload(n, served, found);
    const repo = join(dir, "recipes");
    writeRepo(repo, items);
    const apply = async (what: string, codes: number[]) => {
      const wrapper = `const m = await import(${JSON.stringify(entry)}); process.exitCode = await m.run(${JSON.stringify(["apply", repo, "--json"])});`;
      const started = process.hrtime.bigint();
      const r = await box.exec(["node", "--input-type=module", "-e", wrapper], { timeoutMs: 900_000 });
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      if (!codes.includes(r.code))
        throw new Error(
          `tend apply (${what}) exited ${r.code}:\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-3000)}`,
        );
      return { wallMs, report: JSON.parse(r.stdout) as Report };
    };
    process.stderr.write(`first run: ${items.length} resources…\n`);
    await apply("first run", [2]);
    const l = loadavg()
      .map((x) => x.toFixed(1))
      .join(" ");
    // Per kind and run: the mean per resource, and its split into the work done once per run (the
    // batched prefetch, which the kind's first resource pays) and each resource's own.
    const perKind = new Map<string, { count: number; all: number[]; once: number[]; each: number[] }>();
    const wall: number[] = [];
    const inRun: number[] = [];
    for (let i = 0; i < runs; i++) {
      const { wallMs, report } = await apply("no-op run", [0]);
      wall.push(wallMs);
      inRun.push(report.duration_ms);
      const byType = new Map<string, number[]>();
      for (const r of report.resources)
        byType.set(r.type, [...(byType.get(r.type) ?? []), r.duration_ms * 1000]);
      for (const [type, us] of byType) {
        const k = perKind.get(type) ?? { count: us.length, all: [], once: [], each: [] };
        // The mean, not the median: a kind's resources may differ (an exec's unless runs a process).
        const rest = us.slice(1);
        const each = rest.length ? rest.reduce((a, b) => a + b, 0) / rest.length : us[0]!;
        k.all.push(us.reduce((a, b) => a + b, 0) / us.length);
        k.each.push(each);
        k.once.push(Math.max(0, us[0]! - each));
        perKind.set(type, k);
      }
    }
    const file = perKind.get("file")!;
    const [fileAll, fileEach] = [median(file.all), median(file.each)];
    const rows = [...perKind].sort(([, a], [, b]) => median(b.each) - median(a.each));
    const out = [
      `mixed no-op workload: ${items.length} resources of ${perKind.size} kinds in a test box, built CLI, median of ${runs} runs (load ${l})`,
      `whole run: ${fmt(median(wall))} wall (the engine's report: ${fmt(median(inRun))})`,
      "",
      "| kind | resources | µs per resource, all in | × file | once per run (prefetch), ms | µs each resource | × file |",
      "|---|---|---|---|---|---|---|",
      ...rows.map(([type, k]) => {
        const [all, each] = [median(k.all), median(k.each)];
        return `| ${type} | ${k.count} | ${all.toFixed(0)} | ${(all / fileAll).toFixed(2)} | ${(median(k.once) / 1000).toFixed(1)} | ${each.toFixed(0)} | ${(each / fileEach).toFixed(2)} |`;
      }),
    ];
    process.stdout.write(`${out.join("\n")}\n`);
  } finally {
    await box.remove();
    await apt.close();
    http.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(dist, { recursive: true, force: true });
  }
}

/**
 * `tend apply` / `tend plan` as a real process with the real file and exec kinds: exit codes, the
 * plan output, noop purity, idempotence, the lock, and a notification that survives a kill -9.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import type { Catalog, CatalogResource, Report } from "../../../core/types.js";
import { catalog, resource, sha256, tendArgv } from "../../helpers/catalog.js";

function workdir(tt: { teardown(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), "tend-cli-"));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const stateDir = join(dir, "state");
  const catalogPath = join(dir, "catalog.json");
  const tend = (cat: Catalog | null, ...args: string[]) => {
    if (cat) writeFileSync(catalogPath, JSON.stringify(cat));
    const r = spawnSync(
      process.execPath,
      tendArgv([...args, "--catalog", catalogPath, "--state-dir", stateDir]),
      {
        encoding: "utf8",
        env: { ...process.env, NO_COLOR: "1" },
      },
    );
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  return { dir, stateDir, catalogPath, tend };
}

function fileRes(path: string, text: string, extra: Partial<CatalogResource> = {}): CatalogResource {
  return {
    ...resource("file", path, { ensure: "file", content_sha256: sha256(text), mode: "0644" }),
    ...extra,
  };
}

function execRes(
  name: string,
  params: Record<string, unknown>,
  extra: Partial<CatalogResource> = {},
): CatalogResource {
  return { ...resource("exec", name, { timeout: 60, ...params } as never), ...extra };
}

t.test("usage mistakes and missing input exit 1 with a sentence", async (t) => {
  const w = workdir(t);
  const bad = spawnSync(process.execPath, tendArgv(["apply", "--frobnicate"]), { encoding: "utf8" });
  t.equal(bad.status, 1);
  t.match(bad.stderr, /Unknown option '--frobnicate'/);
  t.match(bad.stderr, /usage: tend apply/);
  const wait = spawnSync(process.execPath, tendArgv(["apply", "--wait", "soon"]), { encoding: "utf8" });
  t.equal(wait.status, 1);
  t.match(wait.stderr, /--wait takes a number of seconds/);
  const noCatalog = w.tend(null, "apply");
  t.equal(noCatalog.code, 1);
  t.match(noCatalog.stderr, /no catalog file at/);
  const noDir = spawnSync(
    process.execPath,
    tendArgv(["plan", join(w.dir, "nope"), "--state-dir", w.stateDir]),
    {
      encoding: "utf8",
    },
  );
  t.equal(noDir.status, 1);
  t.match(noDir.stderr, /no recipe folder at/);
  const help = spawnSync(process.execPath, tendArgv(["plan", "--help"]), { encoding: "utf8" });
  t.equal(help.status, 0);
  t.match(help.stdout, /exit codes: 0 nothing changed, 2 changes, 4 failures/);
});

t.test(
  "plan prints a readable plan, exits 2, and writes nothing; apply converges; again changes nothing",
  async (t) => {
    const w = workdir(t);
    const motd = join(w.dir, "motd");
    const fresh = join(w.dir, "fresh.conf");
    const marker = join(w.dir, "made");
    writeFileSync(motd, "old line\nkept\n");
    const cat = catalog(
      [
        fileRes(motd, "new line\nkept\n"),
        fileRes(fresh, "a = 1\n"),
        execRes("make marker", { argv: ["/usr/bin/touch", marker], creates: marker }),
      ],
      ["new line\nkept\n", "a = 1\n"],
    );
    const before = statSync(motd).mtimeMs;
    const plan = w.tend(cat, "plan");
    t.equal(plan.code, 2, plan.stderr);
    const lines = plan.stdout.split("\n");
    t.ok(lines.includes(`~ file:${motd}  content`), plan.stdout);
    t.ok(lines.includes(`+ file:${fresh}`));
    t.ok(lines.includes("~ exec:make marker  executed"));
    t.ok(lines.includes("    -old line") && lines.includes("    +new line"), "the diff is under the file");
    t.match(plan.stdout, /\n3 would change, 0 unchanged in \d+\.\d\ds\n$/);
    t.equal(statSync(motd).mtimeMs, before, "plan leaves the file alone");
    t.notOk(existsSync(fresh) || existsSync(marker), "plan creates nothing and runs no command");
    t.notOk(existsSync(w.stateDir), "plan does not even create the state dir");

    const apply = w.tend(null, "apply");
    t.equal(apply.code, 2, apply.stderr);
    t.match(apply.stdout, /\n3 changed, 0 unchanged in /);
    t.equal(readFileSync(motd, "utf8"), "new line\nkept\n");
    t.ok(existsSync(marker));
    const kept = readdirSync(w.stateDir);
    t.ok(kept.includes("state.json"));
    t.notOk(kept.includes("lock") || kept.includes("notify.journal"), "no lock or journal left after a run");

    const again = w.tend(null, "apply", "--json");
    t.equal(again.code, 0, again.stderr);
    const report = JSON.parse(again.stdout) as Report;
    t.equal(report.status, "unchanged");
    t.equal(report.mode, "apply");
    t.same(report.summary, {
      total: 3,
      changed: 0,
      drifted: 0,
      failed: 0,
      skipped: 0,
      unchanged: 3,
      unknown: 0,
    });

    writeFileSync(motd, "edited by hand\n");
    const repair = w.tend(null, "apply");
    t.equal(repair.code, 2);
    t.match(repair.stdout, /\n1 changed \(1 drift\), 2 unchanged in /);
  },
);

t.test("exit codes: 4 for failures only, 6 for changes and failures", async (t) => {
  const w = workdir(t);
  const never = join(w.dir, "never");
  const failing = execRes("fails", { argv: ["/bin/false"], creates: never });
  const after = fileRes(join(w.dir, "after"), "x\n", { require: ["exec:fails"] });
  const onlyFailure = w.tend(catalog([failing, after], ["x\n"]), "apply");
  t.equal(onlyFailure.code, 4, onlyFailure.stdout + onlyFailure.stderr);
  t.match(
    onlyFailure.stdout,
    /^! exec:fails {2}failed: exec:fails: command exited 1\. \[TEND_E_EXEC_FAILED\]$/m,
  );
  t.match(onlyFailure.stdout, new RegExp(`^· file:${w.dir}/after  skipped: exec:fails failed$`, "m"));
  t.match(onlyFailure.stdout, /1 failed, 1 skipped, 0 unchanged/);
  const both = w.tend(catalog([failing, fileRes(join(w.dir, "other"), "y\n")], ["y\n"]), "apply", "--json");
  t.equal(both.code, 6);
  const report = JSON.parse(both.stdout) as Report;
  t.equal(report.status, "failed");
  t.same(
    report.resources.map((r) => r.status),
    ["failed", "changed"],
  );
});

t.test("a run refuses to start while another holds the lock, naming it", async (t) => {
  const w = workdir(t);
  const slowStarted = join(w.dir, "slow-started");
  const cat = catalog([
    execRes("slow", { argv: ["/bin/sh", "-c", `touch ${slowStarted}; sleep 60`], creates: join(w.dir, "x") }),
  ]);
  writeFileSync(w.catalogPath, JSON.stringify(cat));
  const first = startApply(w.catalogPath, w.stateDir);
  await until(() => existsSync(slowStarted));
  const second = w.tend(null, "apply", "--wait", "0.2");
  t.equal(second.code, 1);
  t.match(
    second.stderr,
    new RegExp(`another tend run holds the lock in ${w.stateDir}: pid ${first.pid}, started \\d{4}-`),
  );
  t.match(second.stderr, /--wait SECONDS/);
  const plan = w.tend(null, "plan");
  t.equal(plan.code, 2, "a plan needs no lock");
  killGroup(first);
  await exited(first);
  touch(join(w.dir, "x"));
  t.equal(w.tend(null, "apply").code, 0, "the SIGKILLed holder does not block the next run");
});

t.test("a run killed between a config change and the restart restarts on the next run", async (t) => {
  const w = workdir(t);
  const conf = join(w.dir, "app.conf");
  const restarts = join(w.dir, "restarts");
  const slowStarted = join(w.dir, "slow-started");
  const slowDone = join(w.dir, "slow-done");
  writeFileSync(conf, "v1\n");
  const cat = catalog(
    [
      fileRes(conf, "v2\n", { notify: ["exec:restart app"] }),
      execRes("slow step", { argv: ["/bin/sh", "-c", `touch ${slowStarted}; sleep 60`], creates: slowDone }),
      execRes(
        "restart app",
        { argv: ["/bin/sh", "-c", `echo restarted >> ${restarts}`], refresh_only: true },
        { require: ["exec:slow step"] },
      ),
    ],
    ["v2\n"],
  );
  writeFileSync(w.catalogPath, JSON.stringify(cat));
  const run = startApply(w.catalogPath, w.stateDir);
  await until(() => existsSync(slowStarted));
  killGroup(run);
  await exited(run);
  t.equal(readFileSync(conf, "utf8"), "v2\n", "the config changed before the kill");
  t.notOk(existsSync(restarts), "the restart had not happened");
  t.ok(existsSync(join(w.stateDir, "notify.journal")), "the owed restart is on disk");

  touch(slowDone); // let the slow step be in sync this time
  const plan = w.tend(null, "plan", "--json");
  const planned = JSON.parse(plan.stdout) as Report;
  t.same(
    planned.resources.map((r) => r.status),
    ["unchanged", "unchanged", "would-change"],
    "the plan shows the owed restart",
  );
  const next = w.tend(null, "apply");
  t.equal(next.code, 2, next.stdout + next.stderr);
  t.match(next.stdout, /^~ exec:restart app {2}refresh$/m);
  t.equal(readFileSync(restarts, "utf8"), "restarted\n");
  t.notOk(existsSync(join(w.stateDir, "notify.journal")));
  t.equal(w.tend(null, "apply").code, 0);
  t.equal(readFileSync(restarts, "utf8"), "restarted\n", "restarted exactly once");
});

function touch(path: string): void {
  writeFileSync(path, "");
}

/** `tend apply` in its own process group, so a kill reaches its commands too. */
function startApply(catalogPath: string, stateDir: string): ChildProcess {
  return spawn(process.execPath, tendArgv(["apply", "--catalog", catalogPath, "--state-dir", stateDir]), {
    detached: true,
    stdio: "ignore",
  });
}

function killGroup(child: ChildProcess): void {
  process.kill(-child.pid!, "SIGKILL");
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.on("exit", () => resolve());
  });
}

async function until(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !ready(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!ready()) throw new Error("gave up waiting");
}

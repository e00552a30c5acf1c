/**
 * The daemon loads only what waiting needs (docs/agent.md, "Idle memory"): its configuration,
 * node-cron and signal handling. Everything a run or a flush needs (undici, the verifier, the
 * engine, liquidjs) is left to the child processes. Every module the daemon resolves is recorded by
 * a module hook; the test fails when one of a run's modules is among them, or when node-cron made the
 * daemon construct an Intl.DateTimeFormat (ICU data). Also: the daemon's own Node.js flags and
 * glibc settings (install.sh) stay out of its runs, and the default splay.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";
import { parseConfig, scheduleIntervalS } from "../../agent/config.js";
import { childEnv, DAEMON_ENV, DAEMON_NODE_FLAGS, selfCommand, splayMs } from "../../agent/daemon.js";

const main = fileURLToPath(new URL("../../cli/main.ts", import.meta.url));

const HOOKS = `
import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.TEND_TEST_MODULES, r.url + "\\n");
  return r;
}`;
// Also records every Intl.DateTimeFormat the process constructs (ICU data the daemon must not page in).
const RECORDER = `import { register } from "node:module"; import { appendFileSync } from "node:fs";
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)});
const Real = Intl.DateTimeFormat;
Intl.DateTimeFormat = function (...args) {
  appendFileSync(process.env.TEND_TEST_MODULES, "Intl.DateTimeFormat " + JSON.stringify(args) + "\\n");
  return new Real(...args);
};`;

for (const watchMode of [false, true])
  t.test(`the daemon's module graph holds no run code${watchMode ? " (watch: true)" : ""}`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "tend-daemon-"));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const stateDir = join(dir, "state");
    mkdirSync(stateDir, { mode: 0o700 });
    const config = join(dir, "agent.yaml");
    writeFileSync(
      config,
      `server: http://127.0.0.1:9\nnode: daemon-1\nstate_dir: ${stateDir}\nschedule: "0 0 1 1 *"\nsplay: 0\nwatch: ${watchMode}\n`,
    );
    // What a run leaves for watch mode: a plan with a path and a unit (journalctl is followed if present).
    writeFileSync(
      join(stateDir, "watch.json"),
      JSON.stringify({
        format: 1,
        paths: { [config]: ["file:x"] },
        units: { "x.service": ["service:x"] },
        notify: {},
      }),
    );
    const modules = join(dir, "modules.txt");
    writeFileSync(modules, "");
    const child = spawn(
      process.execPath,
      [
        "--import",
        `data:text/javascript,${encodeURIComponent(RECORDER)}`,
        "--import",
        "tsx",
        main,
        "agent",
        "daemon",
        "--config",
        config,
      ],
      { env: { ...process.env, TEND_TEST_MODULES: modules }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString();
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (c: Buffer) => {
        out += c.toString();
        if (out.includes(watchMode ? "watch: 2 resource(s)" : "daemon: node daemon-1")) resolve();
      });
      child.once("exit", (code) => reject(new Error(`daemon exited with ${code}: ${err}`)));
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    t.equal(await exited, 0, "SIGTERM stops it cleanly");
    const loaded = readFileSync(modules, "utf8").split("\n").filter(Boolean);
    t.ok(
      loaded.some((u) => u.includes("/node-cron/")),
      "the recorder sees the daemon's modules (node-cron)",
    );
    t.ok(
      loaded.some((u) => u.endsWith("/agent/config.ts")),
      "and its configuration",
    );
    t.equal(
      loaded.some((u) => u.endsWith("/agent/watch/index.ts")),
      watchMode,
      watchMode ? "and the watcher" : "the watcher only with watch: true",
    );
    const runCode =
      /\/node_modules\/(undici|liquidjs|ajv)\/|\/agent\/(run|http|store\/report-spool|store\/catalog-cache|engine\/[^/]+)\.ts$|\/agent\/client\//;
    t.same(
      loaded.filter((u) => runCode.test(u)),
      [],
      "nothing a run or a flush needs",
    );
    t.same(
      loaded.filter((u) => u.startsWith("Intl.")),
      [],
      "node-cron computed its next run without constructing an Intl.DateTimeFormat",
    );
  });

t.test("the daemon's own Node.js flags and glibc settings do not reach its runs", async (t) => {
  const self = selfCommand(["--jitless", "--no-icu-timezone-data", "--max-old-space-size=200"]);
  t.same(self.slice(0, 2), [process.execPath, "--max-old-space-size=200"], "only other flags are kept");
  const env = childEnv({ PATH: "/bin", MALLOC_TRIM_THRESHOLD_: "1", MALLOC_MMAP_THRESHOLD_: "2" });
  t.same(env, { PATH: "/bin" }, "the daemon's malloc settings are dropped");

  // What install.sh gives the daemon is what these lists take away again.
  const unit = readFileSync(fileURLToPath(new URL("../../install.sh", import.meta.url)), "utf8");
  const exec = /^ExecStart=(\S+) (.*) \$LIB_DIR\/tend-agent\.js agent daemon /m.exec(unit);
  t.ok(exec, "ExecStart runs node on the bundle with flags");
  t.same(exec?.[2]?.split(" "), [...DAEMON_NODE_FLAGS], "ExecStart's flags are DAEMON_NODE_FLAGS");
  const envLine = /^Environment=(.*)$/m.exec(unit)?.[1] ?? "";
  t.same(
    envLine.split(" ").map((kv) => kv.split("=")[0]),
    [...DAEMON_ENV],
    "Environment= sets DAEMON_ENV",
  );
});

t.test("splay defaults to the schedule's interval, so a fleet spreads over all of it", async (t) => {
  const cases: [string, number][] = [
    ["*/30 * * * *", 1800],
    ["*/5 * * * * *", 5],
    ["*/7 * * * *", 240], // :56 to the next hour's :00
    ["0 0,23 * * *", 3600], // 23:00 to 00:00
    ["0 9,17 * * 1-5", 28800],
    ["0 3 * * 1", 86400], // weekly: at most a day
    ["@daily", 86400],
    ["not cron", 0],
  ];
  for (const [schedule, seconds] of cases) t.equal(scheduleIntervalS(schedule), seconds, schedule);
  const config = (extra: string) =>
    parseConfig(`server: http://127.0.0.1:9\nnode: n-1\n${extra}`, "agent.yaml");
  t.equal(config("").splay, 1800, "the default schedule: splay 1800");
  t.equal(config('schedule: "0 * * * *"\n').splay, 3600, "hourly: 3600");
  t.equal(config("splay: 300\n").splay, 300, "a configured splay is kept");
  t.ok(splayMs("n-1", 1800) < 1800 * 1000, "an offset is below the interval");
});

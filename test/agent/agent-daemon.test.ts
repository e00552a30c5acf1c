/**
 * The daemon loads only what waiting needs (docs/agent.md, "Idle memory"): its configuration,
 * node-cron and signal handling. Everything a run or a flush needs (undici, the verifier, the
 * engine, liquidjs) is left to the child processes. Every module the daemon resolves is recorded by
 * a module hook; the test fails when one of a run's modules is among them.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";

const main = fileURLToPath(new URL("../../cli/main.ts", import.meta.url));

const HOOKS = `
import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.TEND_TEST_MODULES, r.url + "\\n");
  return r;
}`;
const RECORDER = `import { register } from "node:module"; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)});`;

t.test("the daemon's module graph holds no run code", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tend-daemon-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const stateDir = join(dir, "state");
  mkdirSync(stateDir, { mode: 0o700 });
  const config = join(dir, "agent.yaml");
  writeFileSync(
    config,
    `server: http://127.0.0.1:9\nnode: daemon-1\nstate_dir: ${stateDir}\nschedule: "0 0 1 1 *"\nsplay: 0\n`,
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
      if (out.includes("daemon: node daemon-1")) resolve();
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
  const runCode =
    /\/node_modules\/(undici|liquidjs|ajv)\/|\/agent\/(run|http|spool|cache|engine[^/]*)\.ts$|\/agent\/client\//;
  t.same(
    loaded.filter((u) => runCode.test(u)),
    [],
    "nothing a run or a flush needs",
  );
});

/**
 * A report's health checks on the dashboard, in a real browser (Debian's Chromium) against a real
 * server process: a real `tend apply --json` probes a service on loopback (one check passes, one
 * fails with a hostile body, one is skipped behind a failed exec), and the node and report pages
 * show each check's status, reason, attempts and duration, the body excerpt verbatim and inert.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { goodRecipes, TestRepo } from "../helpers/server-git.js";
import { spawnServer, stop, tendServer } from "../helpers/server-process.js";
import { openBrowser } from "../helpers/ui-browser.js";
import { apply, hostile, post, recipeRepo } from "../helpers/ui-fleet.js";

const service = createServer((req, res) => {
  if (req.url === "/healthz") res.end("ok\n");
  else res.writeHead(503).end(`down: ${hostile}\n`);
});
await new Promise<void>((r) => service.listen(0, "127.0.0.1", r));
const svc = `http://127.0.0.1:${(service.address() as { port: number }).port}`;
t.teardown(() => service.close());

const dir = mkdtempSync(join(tmpdir(), "tend-ui-checks-"));
const repo = new TestRepo();
repo.commit(goodRecipes, "good recipes");
t.teardown(() => {
  repo.cleanup();
  rmSync(dir, { recursive: true, force: true });
});
const config = join(dir, "server.yaml");
writeFileSync(
  config,
  `listen: 127.0.0.1:0\ndata_dir: ${join(dir, "data")}\nrecipes: { repo: ${repo.dir}, poll: "0" }\nlog_level: warn\n`,
);
const admin = (await tendServer(["token", "create", "--admin", "--config", config])).stdout.trim();
const enrol = (await tendServer(["token", "create", "--config", config])).stdout.trim();
const server = await spawnServer(config);
t.teardown(() => stop(server));
const base = server.url;

const recipes = recipeRepo(
  join(dir, "web"),
  [
    `  - file: ${join(dir, "web.conf")}`,
    '    content: "listen\\n"',
    "  - exec: ls /nonexistent/tend-ui",
    "checks:",
    `  - http: ${svc}/healthz`,
    "    require: []",
    `  - http: ${svc}/status`,
    "    name: status page",
    "    require: []",
    "  - command: [/bin/true]",
    '    require: ["exec:ls /nonexistent/tend-ui"]',
    "",
  ].join("\n"),
);
const cred = (
  (await (await post(`${base}/api/v1/enroll`, { token: enrol, node: "web-1" })).json()) as {
    credential: string;
  }
).credential;
const report = (await apply(recipes, "web-1", join(dir, "state"))) as { id: string };
await post(`${base}/api/v1/reports`, report, cred);

const b = await openBrowser();
t.teardown(() => b.close());
const { page } = b;

t.test("the node page shows the latest report's checks, failed first", async (t) => {
  await page.goto(`${base}/ui/login`);
  await page.fill("input[name=token]", admin);
  await b.follow("button[type=submit]");
  await page.goto(`${base}/ui/nodes/web-1`);
  const rows = page.locator("section", { hasText: "Latest report" }).locator("table.checks tbody tr");
  t.equal(await rows.count(), 3);
  t.same(await rows.locator("td:first-child").allTextContents(), [
    "status page",
    "command:/bin/true",
    `http:${svc}/healthz`,
  ]);
  t.same(await rows.locator(".badge").allTextContents(), ["failed", "skipped", "ok"]);
  t.match(await rows.nth(0).locator("td.reason").textContent(), /status 503, wanted 2xx/);
  t.match(await rows.nth(1).locator("td.reason").textContent(), /exec:ls \/nonexistent\/tend-ui failed/);
  t.match(
    await page.locator("section", { hasText: "Latest report" }).locator("p").first().textContent(),
    /checks: 3 total: 1 ok, 1 failed, 1 skipped/,
  );
  await b.shot("checks-01-node");
});

t.test(
  "the report page lists every check with reason, attempts, duration and the body verbatim",
  async (t) => {
    await page.goto(`${base}/ui/reports/${report.id}`);
    t.equal(
      await page.locator("dl.meta dd", { hasText: "3 total" }).textContent(),
      "3 total: 1 ok, 1 failed, 1 skipped",
    );
    const failed = page.locator("#checks tr.st-failed");
    t.equal(await failed.count(), 1);
    t.match(await failed.locator("td.num").first().textContent(), /^1$/, "one attempt");
    t.match(
      await failed.locator("td.num").last().textContent(),
      /^\d+\.\d (ms|s)$|^\d+\.\d\d s$/,
      "its duration",
    );
    await failed.locator("summary").click();
    t.equal(
      await failed.locator("pre.output").textContent(),
      `down: ${hostile}\n`,
      "the excerpt, verbatim (TRUST C5)",
    );
    t.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined, "never run");
    await b.shot("checks-02-report");
  },
);

t.test("no page logged a console error or failed a request", async (t) => {
  t.same(b.problems, []);
});

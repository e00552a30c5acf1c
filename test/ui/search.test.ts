/**
 * The fleet page's search box in a real browser (Debian's Chromium) against a server listening on
 * 127.0.0.1: a search narrows the table and is kept in the address, sorting and the run/plan
 * selection keep it, a mistake is shown with its column (and selects nothing), and the form works
 * with JavaScript turned off. Screenshots go to test-artifacts/ui/.
 */
import t from "tap";
import type { Report } from "../../core/types.js";
import { startTestServer } from "../helpers/server-app.js";
import { facts } from "../helpers/server-git.js";
import { makeReport } from "../helpers/server-report.js";
import { openBrowser } from "../helpers/ui-browser.js";

const srv = await startTestServer();
t.teardown(() => srv.close());
const base = await srv.app.listen({ host: "127.0.0.1", port: 0 });
const live = await srv.storage.liveCommit();

const boxes = [
  { name: "web-1", version: "12", failed: false, commit: live },
  { name: "web-2", version: "11", failed: true, commit: live },
  { name: "db-1", version: "12", failed: true, commit: live },
  { name: "db-2", version: "12", failed: false, commit: "0".repeat(40) },
];
for (const x of boxes) {
  await srv.enroll(x.name);
  await srv.storage.saveFacts(
    x.name,
    { ...facts(x.name), os: { id: "debian", version_id: x.version, family: "debian" } } as never,
    Date.now(),
  );
  const r: Report = makeReport(x.name, x.commit, { drifted: x.name === "db-2" ? ["file:/etc/motd"] : [] });
  if (x.failed) {
    r.status = "failed";
    Object.assign(r.resources.find((y) => y.id === "package:nginx") ?? {}, {
      status: "failed",
      error: "E: apt",
    });
  }
  await srv.storage.saveReport(r, Date.now());
}

const b = await openBrowser();
t.teardown(() => b.close());
const { page } = b;
const rowNames = () => page.locator("table.fleet tbody tr td:first-child a").allTextContents();
await b.loginWithToken(base, srv.adminToken);

t.test("a search narrows the fleet and stays in the address", async (t) => {
  await page.fill("input[name=where]", "os.version_id = 12 and package:nginx failed");
  const loaded = page.waitForEvent("load");
  await page.press("input[name=where]", "Enter");
  await loaded;
  t.equal(new URL(page.url()).searchParams.get("where"), "os.version_id = 12 and package:nginx failed");
  t.same(await rowNames(), ["db-1"]);
  t.match(await page.locator("p.muted", { hasText: "shown" }).textContent(), /1 node shown of 4/);
  t.equal(
    await page.inputValue("input[name=where]"),
    "os.version_id = 12 and package:nginx failed",
    "kept in the box",
  );
  await b.shot("search-01-result");

  await page.fill("input[name=where]", "commit != live or drifted");
  await b.follow("form.filters button[type=submit]");
  t.same(await rowNames(), ["db-2"]);
  await page.fill("input[name=where]", "failing or name ~ db-*");
  await b.follow("form.filters button[type=submit]");
  t.same(await rowNames(), ["db-1", "db-2", "web-2"]);
  await b.follow("th a:text('node')");
  t.same(await rowNames(), ["web-2", "db-2", "db-1"], "sorting keeps the search");
  t.equal(new URL(page.url()).searchParams.get("where"), "failing or name ~ db-*");
});

t.test("run and plan act on the search's nodes", async (t) => {
  await page.goto(`${base}/ui/?where=${encodeURIComponent("package:nginx failed")}`);
  const where = page.locator("form[action='/ui/fleet/plan'] input[name=where]");
  t.equal(await where.getAttribute("value"), "package:nginx failed", "the plan form carries the search");
  await b.follow("form[action='/ui/fleet/plan'] button[type=submit]");
  const listed = await page.locator("ul.nodes li").allTextContents();
  t.same(listed.sort(), ["db-1", "web-2"], "the confirmation names exactly the search's nodes");
});

t.test("a mistake is shown with its column, selects nothing and offers no action", async (t) => {
  await page.goto(`${base}/ui/`);
  await page.fill("input[name=where]", "package:nginx and stale");
  await b.follow("form.filters button[type=submit]");
  const error = await page.locator("pre.search-error[role=alert]").textContent();
  t.match(error, /expected a state after "package:nginx" but found "and" at column 15/);
  t.match(error, /\n {2}package:nginx and stale\n {16}\^/, "a caret under the mistake");
  t.equal(await page.getAttribute("input[name=where]", "aria-invalid"), "true");
  t.same(await rowNames(), []);
  t.equal(await page.locator("form[action='/ui/fleet/run']").count(), 0, "no run/plan for a broken search");
  t.same(b.problems, [], "no console or request errors");
  await b.shot("search-02-error");
});

t.test("the search form works with JavaScript off", async (t) => {
  const context = await b.browser.newContext({ javaScriptEnabled: false });
  t.teardown(() => context.close());
  await context.addCookies(await page.context().cookies());
  const p = await context.newPage();
  await p.goto(`${base}/ui/`);
  await p.fill("input[name=where]", "os.version_id < 12");
  const loaded = p.waitForEvent("load");
  await p.click("form.filters button[type=submit]");
  await loaded;
  t.same(await p.locator("table.fleet tbody tr td:first-child a").allTextContents(), ["web-2"]);
  await p.click("details.search-help summary");
  t.match(
    await p.locator("details.search-help").textContent(),
    /package:nginx failed/,
    "the help opens without JS",
  );
});

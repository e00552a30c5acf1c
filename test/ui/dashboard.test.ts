/**
 * The dashboard in a real browser (Debian's Chromium) against a real server process holding real
 * agent reports: login, every page, the diff of a drifted file, filters, untrusted text shown
 * verbatim and inert, CSRF, logout. Screenshots go to test-artifacts/ui/.
 */
import t from "tap";
import { openBrowser } from "../helpers/ui-browser.js";
import { hostile, startUiFleet } from "../helpers/ui-fleet.js";

const fleet = await startUiFleet();
t.teardown(() => fleet.close());
const b = await openBrowser();
t.teardown(() => b.close());
const { page } = b;
const base = fleet.url;
const rowNames = () => page.locator("table.fleet tbody tr td:first-child a").allTextContents();

t.test("a visitor without a session is sent to the login form, and a wrong token is refused", async (t) => {
  await page.goto(`${base}/`);
  t.equal(new URL(page.url()).pathname, "/ui/login", "the server's bare address leads to the dashboard");
  await page.goto(`${base}/ui/`);
  t.equal(new URL(page.url()).pathname, "/ui/login");
  await b.shot("01-login");
  await page.click("details summary"); // the admin token field, under the name and password
  await page.fill("input[name=token]", "tend_adm_not-a-real-token");
  await b.follow("button[type=submit]");
  t.match(await page.locator("p.error").textContent(), /is not valid/);
  t.match(b.problems, [/status of 401/], "the refusal is a 401 (Chromium logs it)");
  b.problems.length = 0;
});

t.test("an admin token opens the fleet page with counts and every node", async (t) => {
  t.equal(
    await page.locator("details[open] input[name=token]").count(),
    1,
    "the token field stays open after a token attempt",
  );
  await page.fill("input[name=token]", fleet.admin);
  await b.follow("button[type=submit]");
  t.equal(new URL(page.url()).pathname, "/ui/");
  const cookie = (await page.context().cookies()).find((c) => c.name === "tend_session");
  t.ok(cookie?.httpOnly, "the session cookie is HttpOnly");
  t.equal(cookie?.sameSite, "Strict");
  t.same((await rowNames()).sort(), ["db-1", "web-1", "web-2"]);
  const card = (label: string) => page.locator(".cards .card", { hasText: label }).locator("b").textContent();
  t.equal(await card("nodes"), "3");
  t.equal(await card("failing"), "1");
  t.equal(await card("drifted"), "1");
  t.equal(await card("stale"), "0");
  t.equal(await page.locator("svg.strip").count(), 3, "a strip of runs per node");
  t.equal(
    await page.locator("tr", { hasText: "web-1" }).locator("svg.strip rect:not(.r-none)").count(),
    3,
    "web-1 ran 3 times",
  );
  await b.shot("02-fleet");
});

t.test("the fleet filters, searches and sorts", async (t) => {
  await page.selectOption("select[name=status]", "failed");
  await b.follow("form.filters button[type=submit]");
  t.same(await rowNames(), ["db-1"], "status filter");
  await page.goto(`${base}/ui/?drifted=1`);
  t.same(await rowNames(), ["web-1"], "drifted only");
  await page.goto(`${base}/ui/?stale=1`);
  t.same(await rowNames(), [], "no stale node");
  await page.goto(`${base}/ui/`);
  await page.fill("input[name=q]", "WEB");
  await b.follow("form.filters button[type=submit]");
  t.same(await rowNames(), ["web-1", "web-2"], "name search, any case");
  await page.goto(`${base}/ui/`);
  await b.follow("th a:has-text('node')");
  t.same(await rowNames(), ["web-2", "web-1", "db-1"], "sorted by name, descending");
  await b.follow("th a:has-text('drifted')");
  t.equal((await rowNames())[0], "web-1", "most drifted first");
  await b.shot("03-fleet-sorted");
});

t.test("the node page shows facts, a chart, and the drifted file's diff verbatim", async (t) => {
  await page.goto(`${base}/ui/`);
  await b.follow("table.fleet a:text-is('web-1')");
  t.equal(new URL(page.url()).pathname, "/ui/nodes/web-1");
  t.match(await page.locator("dl.facts").textContent(), /debian/);
  t.equal(await page.locator("figure.chart svg").count(), 1, "runs over time");
  t.ok((await page.locator("figure.chart svg .c-drift").count()) >= 1, "the drift run is in the chart");
  const latest = page.locator("section", { hasText: "Latest report" });
  t.equal(await latest.locator(".tag.drift").count(), 1, "the resource is marked as drift");
  const lines = async (cls: string) =>
    (await latest.locator(`pre.diff .${cls}`).allTextContents()).map((l) => l.trimEnd());
  t.same(await lines("del"), ["-listen 80", "-# edited by hand"], "the hand edit is shown as removed");
  const added = await lines("add");
  t.ok(added.includes("+listen 8080"), "the desired line is shown as added");
  t.ok(added.includes(`+# ${hostile}`), "untrusted text appears verbatim (TRUST C5)");
  t.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined, "never run");
  t.equal(await page.locator("pre.json", { hasText: hostile }).count(), 1, "a hostile fact appears verbatim");
  t.equal(await page.locator("table.reports tbody tr").count(), 3, "links to every report");
  await b.shot("04-node-web-1");
});

t.test("the report page shows every resource with status, duration, diff, error and output", async (t) => {
  await page.goto(`${base}/ui/nodes/db-1`);
  await b.follow("table.reports tbody tr a");
  t.match(new URL(page.url()).pathname, /^\/ui\/reports\//);
  t.equal(await page.locator("article.resource").count(), 2);
  t.match(await page.locator("article.st-failed pre.error").textContent(), /No such file or directory/);
  t.match(await page.locator("article.resource header").first().textContent(), /ms/);
  await b.shot("05-report-db-1");
  await page.goto(`${base}/ui/nodes/web-2`);
  await b.follow("table.reports tbody tr:last-child a");
  t.equal(await page.locator("pre.output").textContent(), "hello from exec\n", "exec output");
  await b.shot("06-report-web-2");
});

t.test("the drift page groups drifted resources by id, with nodes and since when", async (t) => {
  await b.follow("nav a:text-is('Drift')");
  const group = page.locator("section.drift-group");
  t.equal(await group.count(), 1);
  t.match(await group.locator("h2 code").textContent(), fleet.driftedFile);
  t.match(await group.textContent(), /1 node.*drifted 2 times/s, "the noop run and the repairing run");
  t.same(await group.locator("tbody td:first-child a").allTextContents(), ["web-1"]);
  await b.shot("07-drift");
});

t.test("the commits page shows the live commit, a refused one with file:line, and the rollout", async (t) => {
  await b.follow("nav a:text-is('Commits')");
  const rows = page.locator("table.commits tbody tr");
  t.equal(await rows.count(), 2);
  t.match(await rows.first().textContent(), /refused/);
  t.match(await rows.first().locator(".problems").textContent(), /web\/recipe\.yaml:3:1/);
  t.match(await page.locator("tr.live").textContent(), /live/);
  const card = (label: string) => page.locator(".cards .card", { hasText: label }).locator("b").textContent();
  t.equal(await card("on an older commit"), "3", "local runs name no commit");
  await b.shot("08-commits");
});

t.test("a form without the session's CSRF token is refused", async (t) => {
  const cookie = (await page.context().cookies()).find((c) => c.name === "tend_session");
  const headers = {
    cookie: `tend_session=${cookie?.value}`,
    "content-type": "application/x-www-form-urlencoded",
  };
  for (const body of ["", "_csrf=forged"]) {
    const res = await fetch(`${base}/ui/logout`, { method: "POST", headers, body, redirect: "manual" });
    t.equal(res.status, 403, `logout with ${JSON.stringify(body)} is refused`);
  }
  await page.goto(`${base}/ui/`);
  t.equal(new URL(page.url()).pathname, "/ui/", "the session still works");
});

t.test("logout ends the session for good", async (t) => {
  const old = (await page.context().cookies()).find((c) => c.name === "tend_session")?.value;
  await b.follow("form.logout button");
  t.equal(new URL(page.url()).pathname, "/ui/login");
  await page.goto(`${base}/ui/drift`);
  t.equal(new URL(page.url()).pathname, "/ui/login", "pages refuse the browser");
  const replay = await fetch(`${base}/ui/`, {
    headers: { cookie: `tend_session=${old}` },
    redirect: "manual",
  });
  t.same([replay.status, replay.headers.get("location")], [303, "/ui/login"], "the old cookie opens nothing");
});

t.test("no page logged a console error or failed a request", async (t) => {
  t.same(b.problems, []);
});

/**
 * In a real browser (Debian's Chromium) against a server on 127.0.0.1: the fleet timeline, reached
 * from the fleet page, with its windows as links; and the node page's resource filter (changed,
 * failed, drifted as links, unchanged collapsed) with JavaScript off. Screenshots go to
 * test-artifacts/ui/.
 */
import { join } from "node:path";
import t from "tap";
import type { Report, ResourceReport } from "../../core/types.js";
import { startTestServer } from "../helpers/server-app.js";
import { makeReport } from "../helpers/server-report.js";
import { artifacts, openBrowser } from "../helpers/ui-browser.js";

const srv = await startTestServer();
t.teardown(() => srv.close());
const base = await srv.app.listen({ host: "127.0.0.1", port: 0 });
const live = await srv.storage.liveCommit();
const now = Date.now();
const hour = 3_600_000;

const res = (id: string, status: ResourceReport["status"], drifted = false): ResourceReport => ({
  id,
  type: id.split(":")[0] as "file",
  status,
  drifted,
  changes: status === "changed" ? [{ property: "content", from: "a", to: "b" }] : [],
  diff: null,
  error: status === "failed" ? "E: Unable to locate package nginx-extras" : null,
  duration_ms: 1,
});

// Three nodes reporting over the last 20 hours: some runs fail, some repair drift.
let k = 0;
for (const node of ["web-1", "web-2", "db-1"]) await srv.enroll(node);
for (let h = 20; h >= 0; h--) {
  for (const node of ["web-1", "web-2", "db-1"]) {
    const r: Report = makeReport(node, live, { drifted: k % 5 === 0 ? ["file:/etc/motd"] : [] });
    if (k % 7 === 3) r.status = "failed";
    r.started_at = new Date(now - h * hour - 60_000).toISOString();
    await srv.storage.saveReport(r, now - h * hour - 30_000);
    k++;
  }
}
// web-1's latest: one of each outcome, and unchanged ones.
const latest: Report = {
  ...makeReport("web-1", live),
  status: "failed",
  started_at: new Date(now - 1000).toISOString(),
  summary: { total: 5, changed: 2, drifted: 1, failed: 1, skipped: 0, unchanged: 2 },
  resources: [
    res("package:nginx-extras", "failed"),
    res("file:/etc/nginx/nginx.conf", "changed"),
    res("file:/etc/motd", "changed", true),
    res("service:nginx", "unchanged"),
    res("package:curl", "unchanged"),
  ],
};
await srv.storage.saveReport(latest, now - 500);

const b = await openBrowser();
t.teardown(() => b.close());
const { page } = b;
await b.loginWithToken(base, srv.adminToken);

t.test("the fleet timeline: from the fleet page, by window, bars per hour", async (t) => {
  await b.follow("h1 a.h-link");
  t.equal(new URL(page.url()).pathname, "/ui/timeline");
  t.equal(
    await page.locator("nav.windows [aria-current=page]").textContent(),
    "24 hours",
    "24 hours by default",
  );
  const runs = await page.locator(".cards .card", { hasText: "runs in" }).locator("b").textContent();
  t.equal(runs, String(3 * 21 + 1), "every run of the window");
  t.ok((await page.locator("figure.timeline svg g").count()) >= 24, "a bar group per hour");
  t.ok((await page.locator("figure.timeline rect.c-failed").count()) > 0, "failures shown");
  t.ok((await page.locator("figure.timeline rect.c-drift").count()) > 0, "drift repairs shown");
  await b.shot("timeline-01-24h");
  await b.follow("nav.windows a:text('1 hour')");
  t.equal(new URL(page.url()).searchParams.get("window"), "1h");
  t.match(await page.locator("figure.timeline figcaption").textContent(), /runs per 5 minutes/);
  await b.follow("nav.windows a:text('30 days')");
  t.equal(await page.locator("figure.timeline svg g").count(), 721, "30 days: 721 hourly buckets");
  t.same(b.problems, []);
});

t.test("the node page filters its latest report's resources with links, JavaScript off", async (t) => {
  const context = await b.browser.newContext({ javaScriptEnabled: false });
  t.teardown(() => context.close());
  await context.addCookies(await page.context().cookies());
  const p = await context.newPage();
  await p.goto(`${base}/ui/nodes/web-1`);
  const shown = () => p.locator("#resources article.resource code.rid").allTextContents();
  t.same(
    (await shown()).sort(),
    ["file:/etc/motd", "file:/etc/nginx/nginx.conf", "package:nginx-extras"],
    "unchanged resources collapsed",
  );
  t.match(await p.locator("#resources details.unchanged summary").textContent(), /2 unchanged resources/);
  t.match(
    await p.locator("nav.resource-filter").textContent(),
    /all \(5\) · changed \(2\) · failed \(1\) · drifted \(1\)/,
  );
  const go = async (label: string) => {
    const loaded = p.waitForEvent("load");
    await p.click(`nav.resource-filter a:text-matches("^${label} ")`);
    await loaded;
  };
  await go("failed");
  t.equal(new URL(p.url()).searchParams.get("show"), "failed");
  t.same(await shown(), ["package:nginx-extras"]);
  t.match(await p.locator("#resources pre.error").textContent(), /Unable to locate package/);
  t.match(await p.locator("#resources p.muted").textContent(), /4 other resources hidden/);
  await go("drifted");
  t.same(await shown(), ["file:/etc/motd"]);
  await go("changed");
  t.same((await shown()).sort(), ["file:/etc/motd", "file:/etc/nginx/nginx.conf"]);
  await p
    .locator("section", { hasText: "Latest report" })
    .screenshot({ path: join(artifacts, "node-filter-changed.png") });
  await go("all");
  t.equal(new URL(p.url()).search, "", "all: no filter");
  await p.goto(`${base}/ui/nodes/web-2?show=failed`);
  t.match(await p.locator("#resources").textContent(), /No failed resource in this report|package:nginx/);
  await p.goto(`${base}/ui/nodes/web-1?show=bogus`);
  t.equal(await p.locator("#resources details.unchanged").count(), 1, "an unknown filter shows all");
});

/**
 * Issue 13 in a real browser (Debian's Chromium): the fleet page's environment filter and tags, the
 * Commits page's branch tabs, and the warning when a node's branch is deleted. Screenshots go to
 * test-artifacts/ui/.
 */
import type { AddressInfo } from "node:net";
import t from "tap";
import { bearer, startTestServer } from "../helpers/server-app.js";
import { commitOn, envRecipes } from "../helpers/server-branches.js";
import { facts, TestRepo } from "../helpers/server-git.js";
import { openBrowser } from "../helpers/ui-browser.js";

const nodes = '- name: "*"\n  recipes: [base]\n- name: "stage-*"\n  environment: staging\n';
const repo = new TestRepo();
t.teardown(() => repo.cleanup());
repo.commit(envRecipes("main", nodes), "main");
commitOn(repo, "staging", envRecipes("staging", nodes), "staging");
const s = await startTestServer({
  repo,
  config: { recipes: { repo: repo.dir, branches: ["main", "staging"], poll: "0" } },
});
t.teardown(() => s.close());
const broken = commitOn(repo, "staging", { "base/recipe.yaml": "resources: [" }, "broken on staging");
await s.gate.refresh();
await s.app.listen({ port: 0, host: "127.0.0.1" });
const base = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`;
for (const node of ["web-1", "web-2", "stage-1"]) {
  const cred = await s.enroll(node);
  const res = await s.app.inject({
    method: "POST",
    url: "/api/v1/catalog",
    headers: bearer(cred),
    payload: { facts: facts(node) },
  });
  if (res.statusCode !== 200) throw new Error(`${node}: ${res.body}`);
}

const b = await openBrowser();
t.teardown(() => b.close());
const { page } = b;
const rows = () => page.locator("table.fleet tbody tr td:first-child a").allTextContents();

t.test("the fleet page filters by environment and tags nodes outside the default one", async (t) => {
  await b.loginWithToken(base, s.adminToken);
  await page.goto(`${base}/ui/`);
  t.same(await rows(), ["stage-1", "web-1", "web-2"]);
  t.equal(
    await page
      .locator("table.fleet .tag.env")
      .allTextContents()
      .then((x) => x.join()),
    "staging",
  );
  await page.selectOption("select[name=env]", "staging");
  const loaded = page.waitForEvent("load");
  await page.click("form.filters button[type=submit]");
  await loaded;
  t.match(page.url(), /[?&]env=staging/);
  t.same(await rows(), ["stage-1"], "only staging's nodes");
  await b.shot("environments-01-fleet-staging");
  await page.goto(`${base}/ui/?env=main`);
  t.same(await rows(), ["web-1", "web-2"]);
  t.same(b.problems, []);
});

t.test("the Commits page has a tab per branch, with the branch's refusal", async (t) => {
  await page.goto(`${base}/ui/commits`);
  await b.follow("nav.tabs a:has-text('staging')");
  t.match(await page.locator("h1").textContent(), /Commits of staging/);
  const refused = page.locator("table.commits tr", { hasText: broken.slice(0, 8) });
  t.equal(await refused.locator(".badge").textContent(), "refused");
  t.match(await refused.locator(".problems").textContent(), /base\/recipe\.yaml/);
  await b.shot("environments-02-commits-staging");
  t.same(b.problems, []);
});

t.test("a deleted branch: its node falls back to main, with a warning", async (t) => {
  repo.git("branch", "-D", "staging");
  await s.gate.refresh();
  const cred = await s.enroll("stage-2");
  await s.app.inject({
    method: "POST",
    url: "/api/v1/catalog",
    headers: bearer(cred),
    payload: { facts: facts("stage-2") },
  });
  await page.goto(`${base}/ui/`);
  const banner = page.locator("section.env-warnings");
  t.match(await banner.textContent(), /1 node is not in the environment/);
  t.match(
    await banner.textContent(),
    /stage-2 gets main: nodes\.yaml puts stage-2 in environment "staging", which is not served/,
  );
  t.equal(await page.locator("select[name=env]").count(), 0, "one environment left: no filter");
  await b.shot("environments-03-fallback");
  await b.follow("section.env-warnings a:has-text('stage-2')");
  t.match(await page.locator("p.warn[role=alert]").textContent(), /not served/);
  t.same(b.problems, []);
});

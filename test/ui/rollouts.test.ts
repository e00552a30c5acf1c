/**
 * Rollouts in a real browser (Debian's Chromium) against a real server on 127.0.0.1 (issue 11):
 * an operator deploys from the commit page (the Deploy button is live), follows the rollout view
 * (waves, each node's state linking to its report, who started it, elapsed), sees the canary
 * fail its health check and halt the rollout, resumes it, and the rollouts list; a preview shows
 * the fleet-wide diff. A viewer sees no buttons. Screenshots go to test-artifacts/ui/.
 */
import t from "tap";
import { rolloutFleet } from "../helpers/rollouts.js";
import { bearer, startTestServer } from "../helpers/server-app.js";
import { openBrowser } from "../helpers/ui-browser.js";

const s = await startTestServer({ config: { deploy: { on_commit: "manual", waves: 1 } } });
t.teardown(() => s.close());
const base = await s.app.listen({ host: "127.0.0.1", port: 0 });
const fleet = await rolloutFleet(s, ["web-1", "web-2", "web-3"]);
await fleet.converge();
const b2 = s.repo.commit({ "README.md": "b\n" }, "release b");
await s.gate.refresh();
const passwords = { otto: await s.addUser("otto", "operator"), vera: await s.addUser("vera", "viewer") };

const b = await openBrowser();
t.teardown(() => b.close());
const { page } = b;
const text = async (selector: string) => (await page.locator(selector).first().textContent()) ?? "";

async function signIn(user: keyof typeof passwords) {
  await page.goto(`${base}/ui/login`);
  await page.fill("input[name=user]", user);
  await page.fill("input[name=password]", passwords[user]);
  await b.follow("form button[type=submit]");
}

t.test("deploy from the commit page, follow it, halt on the canary's health check, resume", async (t) => {
  await signIn("otto");
  await page.goto(`${base}/ui/commits`);
  t.equal(
    await page.locator('form.action button:text-is("Deploy")').first().isDisabled(),
    false,
    "Deploy is live",
  );
  await b.follow('form.action button:text-is("Deploy")');
  await b.follow("form.confirm button[type=submit]");
  t.match(await text("main"), /Rollout 1 started/);
  await b.follow("main a:text-is('Follow the rollout')");
  t.equal(new URL(page.url()).pathname, "/ui/rollouts/1");
  t.match(await text("h1"), /Rollout 1\s+running/);
  t.match(
    await text("main"),
    new RegExp(`Commit ${b2.slice(0, 12)}, from [0-9a-f]{12}, nodes \\*; started by user:otto`),
  );
  t.same(
    await page.locator("section.wave h2").allTextContents(),
    ["canary running 1 node, 0 s", "wave 2 pending 2 nodes"].map((x) => x),
    "the waves",
  );
  await b.shot("40-rollout-running");

  await fleet.report("web-1", b2, { fail: true });
  await page.reload();
  t.match(await text("h1"), /halted/);
  t.match(await text("p.error"), /the canary failed on web-1/);
  t.match(
    await text("section.wave .error-text"),
    /check http:\/\/127\.0\.0\.1:8080\/health failed: HTTP 500/,
  );
  const report = await page.locator("section.wave a:text-is('report')").first().getAttribute("href");
  t.match(report, /^\/ui\/reports\/[0-9a-f-]+$/, "the failed node links to its report");
  await b.shot("41-rollout-halted");

  await b.follow('form.action button:text-is("Resume")');
  t.match(await text("h1"), /Resume rollout 1\?/);
  await b.follow("form.confirm button[type=submit]");
  t.match(await text("main"), /Rollout 1 resumed/);
  await fleet.report("web-1", b2, { changed: true });
  await fleet.converge(["web-2", "web-3"]);
  await page.goto(`${base}/ui/rollouts/1`);
  t.match(await text("h1"), /Rollout 1\s+done/);
  t.same(
    await page.locator("section.cards b").allTextContents(),
    ["0", "0", "1", "2", "0"],
    "pending running changed unchanged failed",
  );
  t.equal(await page.locator('form.action button:text-is("Abort")').count(), 0, "nothing to abort once done");
  await b.shot("42-rollout-done");

  await b.follow("nav a:text-is('Rollouts')");
  t.match(await text("table.rollouts-table tbody tr"), /rollout 1\s*[0-9a-f]{12}\s*done\s*\*\s*user:otto/);
  const actions = (await s.storage.readAudit({ limit: 10 })).map((e) => e.action);
  t.same(actions.slice(0, 2), ["rollout.resume", "commit.deploy"]);
  t.same(b.problems, [], "no console error, no failed request");
});

t.test("a preview shows the fleet-wide diff; a viewer sees no buttons", async (t) => {
  const res = await s.app.inject({
    method: "POST",
    url: "/api/v1/rollouts",
    headers: bearer(s.adminToken),
    payload: { noop: true },
  });
  const id = res.json().id as number;
  await fleet.report("web-1", b2, { noop: true, changed: true });
  await fleet.report("web-2", b2, { noop: true, changed: true });
  await page.context().clearCookies(); // otto's session
  await signIn("vera");
  await page.goto(`${base}/ui/rollouts/${id}`);
  t.match(await text("h1"), /Preview 2\s+running/);
  t.match(
    await text("p.summary"),
    /This commit would change 2 resources on 2 nodes \(1 of 3 not reported yet\)/,
  );
  t.equal(await page.locator("form.action").count(), 0, "a viewer gets no buttons");
  await fleet.report("web-3", b2, { noop: true });
  await page.reload();
  t.match(await text("p.summary"), /This commit would change 2 resources on 2 nodes\.$/);
  await b.shot("43-preview");
  t.same(b.problems, []);
});

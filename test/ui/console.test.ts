/**
 * The console's actions in a real browser (Debian's Chromium) against a real HTTP server on
 * 127.0.0.1: sign-in by name and password, every button through its confirmation page (no
 * JavaScript anywhere), the audit log page, what each role sees and may do, CSRF refusal, and the
 * buttons of a server without the push channel. Issue 11's push channel and rollouts are not on
 * main yet: recording stand-ins (named as such) take their place. Screenshots go to
 * test-artifacts/ui/.
 */
import t from "tap";
import type { Rollouts, Signals } from "../../server/signals.js";
import { bearer, startTestServer } from "../helpers/server-app.js";
import { facts } from "../helpers/server-git.js";
import { makeReport } from "../helpers/server-report.js";
import { openBrowser } from "../helpers/ui-browser.js";

const signalled: { nodes: string[]; noop: boolean }[] = [];
const recordingSignals: Signals = {
  send: async (nodes, signal) => {
    signalled.push({ nodes, noop: signal === "noop" });
    return { id: 1, signal, targets: nodes.length, delivered: nodes.length, queued: 0, spread_ms: 0 };
  },
};
const deployed: string[] = [];
const recordingRollouts: Rollouts = {
  start: async (o) => {
    deployed.push(o.commit);
    return { id: `rollout-${deployed.length}` };
  },
};

const s = await startTestServer({ signals: recordingSignals, rollouts: recordingRollouts });
t.teardown(() => s.close());
const base = await s.app.listen({ host: "127.0.0.1", port: 0 });
const live = s.gate.live?.sha ?? "";
const creds: Record<string, string> = {};
for (const node of ["web-1", "web-2", "db-1"]) {
  creds[node] = await s.enroll(node);
  await s.app.inject({
    method: "POST",
    url: "/api/v1/catalog",
    headers: bearer(creds[node] ?? ""),
    payload: { facts: facts(node) },
  });
  const report = makeReport(node, live, node === "web-1" ? { drifted: ["file:/etc/motd"] } : {});
  await s.app.inject({
    method: "POST",
    url: "/api/v1/reports",
    headers: bearer(creds[node] ?? ""),
    payload: report,
  });
}
const passwords = {
  alice: await s.addUser("alice", "admin"),
  otto: await s.addUser("otto", "operator"),
  vera: await s.addUser("vera", "viewer"),
};

const b = await openBrowser();
t.teardown(() => b.close());
const { page } = b;
const audit = async () => (await s.storage.readAudit({ limit: 100 })).map((e) => e.action);

async function signIn(user: keyof typeof passwords) {
  await page.goto(`${base}/ui/login`);
  await page.fill("input[name=user]", user);
  await page.fill("input[name=password]", passwords[user]);
  await b.follow("form button[type=submit]");
}

/** Clicks a button, checks the confirmation page, confirms; returns the outcome page's text. */
async function confirmAction(button: string, confirmTitle: RegExp, shot?: string): Promise<string> {
  await b.follow(`form.action button:text-is("${button}")`);
  t.match(await page.locator("h1").textContent(), confirmTitle, `${button}: a confirmation page first`);
  if (shot) await b.shot(shot);
  await b.follow("form.confirm button[type=submit]");
  return (await page.locator("main").textContent()) ?? "";
}

t.test("an account signs in by name and password; a wrong password is refused", async (t) => {
  await page.goto(`${base}/ui/login`);
  await b.shot("10-login-user");
  await page.fill("input[name=user]", "alice");
  await page.fill("input[name=password]", "not alice's password");
  await b.follow("form button[type=submit]");
  t.match(await page.locator("p.error").textContent(), /is not valid/);
  b.problems.length = 0; // Chromium logs the 401
  await signIn("alice");
  t.equal(new URL(page.url()).pathname, "/ui/");
  t.match(await page.locator(".who").textContent(), /user:alice\s+admin/);
});

t.test("fleet: a new enrolment token is shown once with the install line", async (t) => {
  const text = await confirmAction("New enrolment token", /new enrolment token/);
  t.match(text, /shown once/);
  const token = (await page.locator("code.secret").textContent()) ?? "";
  t.match(token, /^tend_enr_[A-Za-z0-9_-]{43}$/);
  const line = (await page.locator("pre.install").textContent()) ?? "";
  t.equal(
    line,
    `curl -fsSL ${base}/install.sh | TEND_TOKEN=${token} sh -s -- --server ${base} --server-key ${line.split("--server-key ")[1]}`,
  );
  t.match(line, /--server-key sha256:[0-9a-f]{64}$/);
  await b.shot("11-enrolment-token");
  const enrol = await s.app.inject({
    method: "POST",
    url: "/api/v1/enroll",
    payload: { token, node: "new-1" },
  });
  t.equal(enrol.statusCode, 200, "the token shown enrols a node");
});

t.test("fleet: the nodes a filter selects are asked to run, then to plan", async (t) => {
  await page.goto(`${base}/ui/?q=web`);
  await b.shot("12-fleet-actions");
  const text = await confirmAction("Run now: 2 nodes", /Run 2 nodes now\?/, "13-confirm-fleet-run");
  t.match(text, /2 nodes were signalled to run now/);
  await page.goto(`${base}/ui/?q=web`);
  await confirmAction("Plan now: 2 nodes", /Plan 2 nodes now\?/);
  t.same(signalled.splice(0), [
    { nodes: ["web-1", "web-2"], noop: false },
    { nodes: ["web-1", "web-2"], noop: true },
  ]);
});

t.test("node: run now, plan now, a re-enrolment token, revoke", async (t) => {
  await page.goto(`${base}/ui/nodes/web-2`);
  await b.shot("14-node-actions");
  t.match(await confirmAction("Run now", /Run web-2 now\?/), /signalled to run now/);
  await page.goto(`${base}/ui/nodes/web-2`);
  t.match(await confirmAction("Plan now", /Plan web-2 now\?/), /signalled to plan now/);
  t.same(signalled.splice(0), [
    { nodes: ["web-2"], noop: false },
    { nodes: ["web-2"], noop: true },
  ]);
  await page.goto(`${base}/ui/nodes/web-2`);
  await confirmAction("Re-enrolment token", /re-enrolment token for web-2/);
  t.match(await page.locator("pre.install").textContent(), / --node web-2$/);
  await page.goto(`${base}/ui/nodes/web-2`);
  t.match(await confirmAction("Revoke", /Revoke web-2\?/, "15-confirm-revoke"), /web-2 is revoked/);
  const poll = await s.app.inject({
    method: "POST",
    url: "/api/v1/catalog",
    headers: bearer(creds["web-2"] ?? ""),
    payload: { facts: facts("web-2") },
  });
  t.equal(poll.statusCode, 401, "the revoked node's credential no longer works");
});

t.test("commits: re-check the live commit, deploy it", async (t) => {
  await page.goto(`${base}/ui/commits`);
  await b.shot("16-commits-actions");
  t.match(await confirmAction("Re-check", /Re-check/), /re-checked: valid, and live/);
  await page.goto(`${base}/ui/commits`);
  t.match(await confirmAction("Deploy", /Deploy/), /Rollout rollout-1 started/);
  t.same(deployed, [live]);
});

t.test("the audit page lists every action with who, role, nodes and address", async (t) => {
  await b.follow("nav a:text-is('Audit')");
  const actions = await page.locator("table.audit tbody tr td:nth-child(4)").allTextContents();
  t.same(actions, [
    "commit.deploy",
    "commit.recheck",
    "node.revoke",
    "token.create",
    "nodes.plan",
    "nodes.run",
    "nodes.plan",
    "nodes.run",
    "token.create",
    "login",
  ]);
  t.same(actions, await audit(), "as stored");
  const revoke = page.locator("table.audit tr", { hasText: "node.revoke" });
  t.match(await revoke.textContent(), /user:alice\s*admin\s*node\.revoke\s*web-2.*127\.0\.0\.1/s);
  await b.shot("17-audit");
});

t.test("a form with another session's or no CSRF token acts on nothing", async (t) => {
  const cookie = (await page.context().cookies()).find((c) => c.name === "tend_session");
  const before = (await audit()).length;
  for (const body of ["confirm=yes", "confirm=yes&_csrf=forged"]) {
    const res = await fetch(`${base}/ui/nodes/db-1/revoke`, {
      method: "POST",
      headers: {
        cookie: `tend_session=${cookie?.value}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body,
      redirect: "manual",
    });
    t.equal(res.status, 403, `${body}: refused`);
  }
  t.equal((await audit()).length, before, "nothing happened");
  t.equal(await s.storage.nodeExists("db-1"), true);
  const poll = await s.app.inject({
    method: "POST",
    url: "/api/v1/catalog",
    headers: bearer(creds["db-1"] ?? ""),
    payload: { facts: facts("db-1") },
  });
  t.equal(poll.statusCode, 200, "db-1 still works");
});

t.test(
  "an operator runs and plans but neither revokes nor makes tokens nor reads the audit log",
  async (t) => {
    await b.follow("form.logout button");
    await signIn("otto");
    await page.goto(`${base}/ui/nodes/db-1`);
    const buttons = await page.locator("form.action button").allTextContents();
    t.same(buttons, ["Run now", "Plan now"]);
    t.equal(await page.locator("nav a:text-is('Audit')").count(), 0);
    const csrf = await page.locator("form.action input[name=_csrf]").first().getAttribute("value");
    const cookie = (await page.context().cookies()).find((c) => c.name === "tend_session");
    const headers = {
      cookie: `tend_session=${cookie?.value}`,
      "content-type": "application/x-www-form-urlencoded",
    };
    for (const url of ["/ui/nodes/db-1/revoke", "/ui/nodes/db-1/reenroll-token", "/ui/tokens"]) {
      const res = await fetch(`${base}${url}`, {
        method: "POST",
        headers,
        body: `confirm=yes&_csrf=${csrf}`,
      });
      t.equal(res.status, 403, `${url}: 403`);
      t.match(await res.text(), /This needs the admin role; user:otto has the operator role/);
    }
    t.equal((await fetch(`${base}/ui/audit`, { headers })).status, 403);
    t.match(await confirmAction("Run now", /Run db-1 now\?/), /signalled/);
    t.same(signalled.splice(0), [{ nodes: ["db-1"], noop: false }]);
    t.equal((await audit())[0], "nodes.run");
  },
);

t.test("a viewer sees no buttons and may press none", async (t) => {
  await b.follow("form.logout button");
  await signIn("vera");
  for (const url of ["/ui/", "/ui/nodes/db-1", "/ui/commits"]) {
    await page.goto(`${base}${url}`);
    t.equal(await page.locator("form.action").count(), 0, `${url}: no action`);
  }
  await b.shot("18-viewer-node");
  const cookie = (await page.context().cookies()).find((c) => c.name === "tend_session");
  const csrf = await page.locator("form.logout input[name=_csrf]").getAttribute("value");
  const res = await fetch(`${base}/ui/nodes/db-1/run`, {
    method: "POST",
    headers: { cookie: `tend_session=${cookie?.value}`, "content-type": "application/x-www-form-urlencoded" },
    body: `confirm=yes&_csrf=${csrf}`,
  });
  t.equal(res.status, 403);
  t.same(signalled, []);
  await b.follow("form.logout button");
});

t.test("without the push channel, run and plan are shown disabled and refused with the reason", async (t) => {
  const bare = await startTestServer({ signals: null });
  t.teardown(() => bare.close());
  const url = await bare.app.listen({ host: "127.0.0.1", port: 0 });
  await bare.enroll("web-1");
  const pw = await bare.addUser("alice", "admin");
  await page.goto(`${url}/ui/login`);
  await page.fill("input[name=user]", "alice");
  await page.fill("input[name=password]", pw);
  await b.follow("form button[type=submit]");
  await page.goto(`${url}/ui/nodes/web-1`);
  t.equal(await page.locator("form.action button:text-is('Run now')").isDisabled(), true);
  t.match(await page.locator("section.actions").textContent(), /push channel is not available/);
  t.equal(
    await page.locator("form.action button:text-is('Revoke')").isDisabled(),
    false,
    "revoke needs no channel",
  );
  await b.shot("19-no-push-channel");
  const cookie = (await page.context().cookies()).find((c) => c.name === "tend_session");
  const csrf = await page.locator("form.logout input[name=_csrf]").getAttribute("value");
  const res = await fetch(`${url}/ui/nodes/web-1/run`, {
    method: "POST",
    headers: { cookie: `tend_session=${cookie?.value}`, "content-type": "application/x-www-form-urlencoded" },
    body: `confirm=yes&_csrf=${csrf}`,
  });
  t.equal(res.status, 503);
  t.match(await res.text(), /push channel is not available on this server/);
  t.same(
    (await bare.storage.readAudit({ limit: 5 })).map((e) => e.action),
    ["login"],
  );
});

t.test("no page logged a console error or failed a request", async (t) => {
  t.same(b.problems, []);
});

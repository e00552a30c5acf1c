/**
 * Issue 13, part 1: every followed branch is judged by the git gate on its own. A refused commit on
 * one branch leaves the others' live commits alone; commits are stored and listed per branch, in
 * the API and on the dashboard's commit page; on SQLite and PostgreSQL.
 */
import t from "tap";
import { bearer, startTestServer } from "../helpers/server-app.js";
import { branchAt, commitOn, envRecipes } from "../helpers/server-branches.js";
import { TestRepo } from "../helpers/server-git.js";
import { testStorages } from "../helpers/server-storage.js";
import { uiLogin } from "../helpers/ui-session.js";

const branches = { recipes: { repo: "", branches: ["main", "staging", "feature/*"], poll: "0" } };

for (const storage of testStorages()) {
  t.test(`${storage().name}: each branch head is judged independently`, async (t) => {
    const repo = new TestRepo();
    t.teardown(() => repo.cleanup());
    const main1 = repo.commit(envRecipes("main 1"), "main 1");
    const staging1 = commitOn(repo, "staging", envRecipes("staging 1"), "staging 1");
    const feature1 = commitOn(repo, "feature/x", envRecipes("feature 1"), "feature 1");
    branchAt(repo, "other"); // not followed
    const s = await startTestServer({
      repo,
      storage: storage(),
      config: { recipes: { ...branches.recipes, repo: repo.dir } },
    });
    t.teardown(() => s.close());
    t.same(s.gate.environments(), ["main", "feature/x", "staging"], "every followed branch is served");
    t.equal(s.gate.liveFor("main")?.sha, main1);
    t.equal(s.gate.liveFor("staging")?.sha, staging1);
    t.equal(s.gate.liveFor("feature/x")?.sha, feature1);
    t.equal(s.gate.liveFor("other"), null, "a branch not in recipes.branches is not served");

    const hook = () =>
      s.app.inject({ method: "POST", url: "/api/v1/hooks/git", headers: bearer(s.adminToken) });
    const broken = commitOn(
      repo,
      "staging",
      { "base/recipe.yaml": "resources:\n  - package: [oops\n" },
      "broken",
    );
    const r = (await hook()).json();
    t.match(r, { head: main1, live: main1, valid: true }, "the default branch's result as before");
    t.match(
      r.branches.find((b: { branch: string }) => b.branch === "staging"),
      { branch: "staging", head: broken, live: staging1, valid: false },
    );
    t.match(r.branches.find((b: { branch: string }) => b.branch === "staging").errors, [
      { file: "base/recipe.yaml", line: Number },
    ]);
    t.equal(s.gate.liveFor("staging")?.sha, staging1, "staging keeps serving its last good commit");
    t.equal(s.gate.liveFor("main")?.sha, main1, "main is untouched");
    t.equal(s.gate.liveFor("feature/x")?.sha, feature1, "feature/x is untouched");

    // The same commit heads two branches: judged (and listed) on each.
    const main2 = repo.commit(envRecipes("main 2"), "main 2");
    branchAt(repo, "feature/y", "main");
    await hook();
    t.equal(s.gate.liveFor("main")?.sha, main2);
    t.equal(s.gate.liveFor("feature/y")?.sha, main2, "a new branch matching feature/* is served");

    const commits = async (q = "") => {
      const res = await s.app.inject({ url: `/api/v1/commits${q}`, headers: bearer(s.adminToken) });
      t.equal(res.statusCode, 200, `GET /api/v1/commits${q}`);
      return res.json() as { sha: string; branch: string; valid: boolean; live: boolean }[];
    };
    t.match(await commits(), [
      { sha: main2, branch: "main", valid: true, live: true },
      { sha: main1, branch: "main", valid: true, live: false },
    ]);
    t.equal((await commits()).length, 2, "the default branch lists its own commits only");
    t.match(await commits("?branch=staging"), [
      { sha: broken, branch: "staging", valid: false, live: false },
      { sha: staging1, branch: "staging", valid: true, live: true },
    ]);
    t.match(await commits("?branch=feature%2Fy"), [
      { sha: main2, branch: "feature/y", valid: true, live: true },
    ]);
    const unknown = await s.app.inject({
      url: "/api/v1/commits?branch=other",
      headers: bearer(s.adminToken),
    });
    t.equal(unknown.statusCode, 404);
    t.match(unknown.json().message, /does not follow a branch "other"/);

    // The dashboard's commit page, per branch.
    const login = await uiLogin(s, { token: s.adminToken });
    const page = async (q: string) =>
      (await s.app.inject({ url: `/ui/commits${q}`, headers: { cookie: login.cookie ?? "" } })).body;
    const stagingPage = await page("?branch=staging");
    t.match(stagingPage, /Commits of <code>staging<\/code>/);
    t.match(stagingPage, broken.slice(0, 8));
    t.notMatch(stagingPage, main2.slice(0, 8), "main's commits are not on staging's page");
    t.match(stagingPage, /href="\/ui\/commits\?branch=feature%2Fx"/, "tabs name every branch");
    const mainPage = await page("");
    t.match(mainPage, main2.slice(0, 8));
    t.notMatch(mainPage, broken.slice(0, 8));

    // A fixed staging commit is promoted; the refused one stays recorded.
    const fixed = commitOn(repo, "staging", envRecipes("staging 2"), "fixed");
    await hook();
    t.equal(s.gate.liveFor("staging")?.sha, fixed);
    t.equal(s.gate.liveFor("main")?.sha, main2);
  });
}

t.test("the refused-commit alert is per branch", async (t) => {
  const repo = new TestRepo();
  t.teardown(() => repo.cleanup());
  repo.commit(envRecipes("main"), "main");
  commitOn(repo, "staging", envRecipes("staging"), "staging");
  const s = await startTestServer({ repo, config: { recipes: { ...branches.recipes, repo: repo.dir } } });
  t.teardown(() => s.close());
  commitOn(repo, "staging", { "nodes.yaml": "- name: [" }, "broken");
  await s.gate.refresh();
  const open = await s.storage.alerts.openConditions(100);
  t.match(
    open.filter((c) => c.kind === "refused-commit"),
    [{ subject: "recipes:staging", summary: /^staging: commit [0-9a-f]{8} refused/ }],
    "staging's refusal raises its own condition, not the default branch's",
  );
});

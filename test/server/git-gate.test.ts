/** The git gate (TRUST C4, D2, H4): a broken commit is refused with file:line errors while the good one serves. */
import t from "tap";
import { bearer, startTestServer } from "../helpers/server-app.js";
import { facts, goodRecipes } from "../helpers/server-git.js";

t.test("a broken commit is refused and the previous one keeps serving", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const good = s.gate.live?.sha;
  t.ok(good, "the first commit is live");
  const cred = await s.enroll("web-1");
  const catalog = () =>
    s.app.inject({
      method: "POST",
      url: "/api/v1/catalog",
      headers: bearer(cred),
      payload: { facts: facts("web-1") },
    });
  t.equal((await catalog()).json().catalog.commit, good);

  const broken = s.repo.commit(
    { "web/recipe.yaml": "description: web\nresources:\n  - package: [oops\n" },
    "broken",
  );
  const hook = await s.app.inject({
    method: "POST",
    url: "/api/v1/hooks/git",
    headers: bearer(s.adminToken),
  });
  t.equal(hook.statusCode, 200);
  t.match(hook.json(), { head: broken, live: good, valid: false });
  t.match(hook.json().errors, [{ file: "web/recipe.yaml", line: Number }], "errors carry file:line");
  t.equal((await catalog()).json().catalog.commit, good, "the good commit still serves");
  const commits = (await s.app.inject({ url: "/api/v1/commits", headers: bearer(s.adminToken) })).json();
  t.match(commits, [
    { sha: broken, valid: false, live: false },
    { sha: good, valid: true, live: true },
  ]);

  const fixed = s.repo.commit(goodRecipes, "fixed");
  const after = await s.app.inject({
    method: "POST",
    url: "/api/v1/hooks/git",
    headers: bearer(s.adminToken),
  });
  t.match(after.json(), { head: fixed, live: fixed, valid: true });
  t.equal((await catalog()).json().catalog.commit, fixed);
});

t.test("a commit that breaks a known node's compile is refused", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const cred = await s.enroll("web-1");
  await s.app.inject({
    method: "POST",
    url: "/api/v1/catalog",
    headers: bearer(cred),
    payload: { facts: facts("web-1") },
  });
  s.repo.commit({ "nodes.yaml": '- name: "web-*"\n  recipes: [missing]\n' }, "names a missing recipe");
  const r = (
    await s.app.inject({ method: "POST", url: "/api/v1/hooks/git", headers: bearer(s.adminToken) })
  ).json();
  t.equal(r.valid, false);
  t.ok(r.errors.length > 0, JSON.stringify(r.errors));
});

t.test("a symlink pointing outside the recipe folder is refused (TRUST D2)", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const good = s.gate.live?.sha;
  s.repo.commit(
    { "web/files/shadow": "symlink:/etc/shadow", "web/files/up": "symlink:../../../x" },
    "links out",
  );
  const r = (
    await s.app.inject({ method: "POST", url: "/api/v1/hooks/git", headers: bearer(s.adminToken) })
  ).json();
  t.equal(r.valid, false);
  t.match(r.errors, [
    { code: "TEND_E_PATH_ESCAPE", file: "web/files/shadow" },
    { code: "TEND_E_PATH_ESCAPE", file: "web/files/up" },
  ]);
  t.equal(r.live, good);
});

t.test("a push webhook signed with the shared secret triggers a fetch", async (t) => {
  const { createHmac } = await import("node:crypto");
  const secret = "s3cret-s3cret-s3cret";
  const s = await startTestServer({ config: { recipes: { repo: "/nonexistent", webhook_secret: secret } } });
  t.teardown(() => s.close());
  const body = JSON.stringify({ ref: "refs/heads/main" });
  const sig = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
  const post = (headers: Record<string, string>) =>
    s.app.inject({
      method: "POST",
      url: "/api/v1/hooks/git",
      payload: body,
      headers: { "content-type": "application/json", ...headers },
    });
  t.equal((await post({ "x-hub-signature-256": sig })).statusCode, 200, "GitHub signature");
  t.equal(
    (await post({ "x-hub-signature-256": `${sig.slice(0, -1)}0` })).statusCode,
    401,
    "a wrong signature",
  );
  t.equal((await post({ "x-gitlab-token": secret })).statusCode, 200, "GitLab token");
  t.equal((await post({})).statusCode, 401, "nothing");
});

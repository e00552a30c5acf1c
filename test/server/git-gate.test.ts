/** The git gate (TRUST C4, D2, H4): a broken commit is refused with file:line errors while the good one serves. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import t from "tap";
import type { Facts } from "../../core/types.js";
import { type CompilerFns, coreCompiler } from "../../server/compiler.js";
import { GitMirror } from "../../server/git/mirror.js";
import { bearer, startTestServer } from "../helpers/server-app.js";
import { facts, goodRecipes } from "../helpers/server-git.js";
import { testStorages } from "../helpers/server-storage.js";

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

/**
 * TRUST H4: a node's facts must not freeze the fleet's deploys. The recipes read `facts.ipv4[0]`,
 * which a node reporting `ipv4: []` (hostile, or an honest IPv6-only box) cannot compile.
 */
const listenRecipes: Record<string, string> = {
  "nodes.yaml": '- name: "*"\n  recipes: [listen]\n',
  "listen/recipe.yaml":
    "description: listen\nresources:\n  - file: /etc/listen.conf\n    template: listen.liquid\n",
  "listen/templates/listen.liquid": "listen {{ facts.ipv4[0] }}:80\n",
};

for (const make of testStorages()) {
  t.test(`one node's facts do not block the fleet's commits (H4) on ${make().name}`, async (t) => {
    const s = await startTestServer({ storage: make(), recipes: listenRecipes });
    t.teardown(() => s.close());
    const base = await s.app.listen({ host: "127.0.0.1", port: 0 });
    const call = (path: string, token: string, body?: unknown) =>
      fetch(`${base}${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { ...bearer(token), ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    // biome-ignore lint/suspicious/noExplicitAny: a JSON answer
    const hook = async (): Promise<any> => (await call("/api/v1/hooks/git", s.adminToken, {})).json();
    const first = s.gate.live?.sha;
    const web = await s.enroll("web-1");
    const evil = await s.enroll("evil-1");
    const v6 = await s.enroll("v6-1");
    const poll = (cred: string, f: Record<string, unknown>) => call("/api/v1/catalog", cred, { facts: f });
    const webFacts = { ...facts("web-1"), ipv4: ["10.0.0.5", "10.0.0.6"] };
    t.equal((await poll(web, webFacts)).status, 200);
    const evilPoll = await poll(evil, { ...facts("evil-1"), ipv4: [] });
    t.equal(evilPoll.status, 422, "schema-valid facts that the template cannot use: 422");
    t.match(await evilPoll.json(), { code: "TEND_E_COMPILE", message: /evil-1/ });
    t.equal((await poll(v6, { ...facts("v6-1"), ipv4: [], ipv6: ["2001:db8::1"] })).status, 422);

    const next = s.repo.commit(
      { "listen/templates/listen.liquid": "listen {{ facts.ipv4[0] }}:8080\n" },
      "8080",
    );
    const r = await hook();
    t.match(r, { head: next, live: next, valid: true }, "the commit is promoted");
    const failing = r.errors.map((p: { message: string }) => p.message).join("\n");
    t.match(failing, /node evil-1 \(also fails on the live commit/, "evil-1's failure is recorded");
    t.match(failing, /node v6-1 \(also fails on the live commit/, "so is the IPv6-only node's");
    t.notMatch(failing, /web-1/);
    const commits = await (await call("/api/v1/commits", s.adminToken)).json();
    t.match(commits, [
      { sha: next, valid: true, live: true, summary: /2 node\(s\) fail to compile/, errors: [{}, {}] },
      { sha: first, valid: true, live: false },
    ]);
    const served = await poll(web, webFacts);
    t.equal(served.status, 200);
    t.equal(((await served.json()) as { catalog: { commit: string } }).catalog.commit, next, "web-1 gets it");
    t.equal((await poll(evil, { ...facts("evil-1"), ipv4: [] })).status, 422, "evil-1 still gets its 422");

    // A regression this commit causes is still refused: web-1 compiles on the live commit, not on this.
    const breaking = s.repo.commit(
      { "listen/templates/listen.liquid": "listen {{ facts.ipv4[2] }}:80\n" },
      "third",
    );
    const refused = await hook();
    t.match(refused, { head: breaking, live: next, valid: false }, "a regression is refused");
    t.match(refused.errors, [{ message: /^node web-1: / }], "blamed on the node it breaks, first");
    const kept = (await (await poll(web, webFacts)).json()) as { catalog: { commit: string } };
    t.equal(kept.catalog.commit, next, "the live commit keeps serving");
  });

  t.test(`a revoked node's facts do not count in the commit check on ${make().name}`, async (t) => {
    const s = await startTestServer({ storage: make(), recipes: listenRecipes });
    t.teardown(() => s.close());
    const hook = async () =>
      (
        await s.app.inject({ method: "POST", url: "/api/v1/hooks/git", headers: bearer(s.adminToken) })
      ).json();
    const web = await s.enroll("web-1");
    const old = await s.enroll("old-1");
    const poll = (cred: string, f: Record<string, unknown>) =>
      s.app.inject({ method: "POST", url: "/api/v1/catalog", headers: bearer(cred), payload: { facts: f } });
    t.equal((await poll(web, { ...facts("web-1"), ipv4: ["10.0.0.5", "10.0.0.6"] })).statusCode, 200);
    t.equal((await poll(old, facts("old-1"))).statusCode, 200);
    // Needs a second address: breaks old-1, which compiles on the live commit.
    s.repo.commit({ "listen/templates/listen.liquid": "listen {{ facts.ipv4[1] }}:80\n" }, "second address");
    t.match(
      await hook(),
      { valid: false, errors: [{ message: /^node old-1: / }] },
      "while old-1 is enrolled",
    );
    t.equal(await s.storage.revokeNode("old-1", Date.now() + 1), true);
    const touch = s.repo.commit({ "README.md": "revoked old-1\n" }, "again");
    t.match(
      await hook(),
      { head: touch, live: touch, valid: true, errors: [] },
      "once revoked, it does not count",
    );
  });
}

t.test("requests are served while a large commit check runs (H5, E4)", async (t) => {
  const core = await coreCompiler();
  let compiles = 0;
  // ~1 ms of synchronous work per compile, as a large repository would cost.
  const compiler: CompilerFns = {
    validateRepo: (repo) => core.validateRepo(repo),
    compile: (...args) => {
      compiles++;
      const until = performance.now() + 1;
      while (performance.now() < until) {}
      return core.compile(...args);
    },
  };
  const s = await startTestServer({ compiler });
  t.teardown(() => s.close());
  const nodes = 200;
  for (let i = 0; i < nodes; i++) {
    await s.enroll(`web-${i}`);
    await s.storage.saveFacts(`web-${i}`, facts(`web-${i}`) as unknown as Facts, 1);
  }
  const base = await s.app.listen({ host: "127.0.0.1", port: 0 });
  s.repo.commit({ "README.md": "a new commit\n" }, "new");
  compiles = 0;
  let judged = false;
  const judging = s.gate.refresh().then((r) => {
    judged = true;
    return r;
  });
  // Waits on the event loop: it gets a turn only if the check yields.
  while (compiles === 0) await new Promise((r) => setImmediate(r));
  const health = await fetch(`${base}/healthz`);
  t.equal(health.status, 200);
  t.notOk(judged, "/healthz was answered while the commit was being judged");
  t.ok(compiles < nodes, `…part-way through it (${compiles} of ${nodes} compiles)`);
  t.match(await judging, { valid: true });
  t.ok(compiles >= nodes, "every node was compiled");
});

t.test(
  "a commit holding a file over catalog.max_file_bytes is refused with its place; the blob is never read",
  async (t) => {
    const s = await startTestServer({
      config: { catalog: { inline_file_bytes: 1024, max_file_bytes: 8192 } },
    });
    t.teardown(() => s.close());
    const good = s.gate.live?.sha;
    t.ok(good, "the good recipes (a 5001-byte file) are under the limit");
    const big = s.repo.commit({ "web/files/big.txt": `${"y".repeat(20_000)}\n` }, "a file over the limit");
    const hook = (
      await s.app.inject({ method: "POST", url: "/api/v1/hooks/git", headers: bearer(s.adminToken) })
    ).json();
    t.match(hook, { head: big, live: good, valid: false });
    t.match(hook.errors, [
      {
        code: "TEND_E_FILE_TOO_LARGE",
        file: "web/recipe.yaml",
        line: 5,
        field: "resources[1].source",
        message: /source "files\/big\.txt" \(web\/files\/big\.txt\) is 19\.5 KiB, over the 8\.0 KiB/,
      },
    ]);
    const mirror = new GitMirror(
      join(mkdtempSync(join(tmpdir(), "tend-mirror-")), "m.git"),
      s.repo.dir,
      "main",
      8192,
    );
    t.teardown(() => rmSync(dirname(mirror.dir), { recursive: true, force: true }));
    t.equal(await mirror.sync(), big);
    const tree = await mirror.tree(big, "");
    t.equal(tree.size("web/files/big.txt"), 20_001, "the tree knows the size");
    t.throws(() => tree.read("web/files/big.txt"), /is not a file/, "but never read the blob");
  },
);

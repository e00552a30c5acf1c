/**
 * Issue 13, part 2: the server decides each node's environment. nodes.yaml on the default branch
 * puts nodes in one (`environment:`) and lets them ask for others (`allow_environments:`); a node
 * asking for one it is not allowed gets its own and a clear refusal; a node never gets another
 * branch's catalog or files (TRUST B1-B3: its credential asking for them gets a 404); on SQLite and
 * PostgreSQL, over real git branches.
 */
import t from "tap";
import { bearer, startTestServer, type TestServer } from "../helpers/server-app.js";
import { commitOn } from "../helpers/server-branches.js";
import { facts, TestRepo } from "../helpers/server-git.js";
import { testStorages } from "../helpers/server-storage.js";

const rules = [
  '- name: "*"',
  "  recipes: [base]",
  '- name: "stage-*"',
  "  environment: staging",
  '- name: "web-*"',
  '  allow_environments: ["feature/*", staging]',
  "- facts: { os.id: debian }",
  "  vars: { debian: true }",
  "",
].join("\n");

/** A recipe writing the branch's motd, and on staging a secret file too big to inline. */
function recipes(motd: string, secret?: string): Record<string, string> {
  const resources = [`  - file: /etc/motd\n    content: "${motd}\\n"\n`];
  if (secret) resources.push("  - file: /etc/secret\n    source: files/secret.txt\n");
  return {
    "nodes.yaml": rules,
    "base/recipe.yaml": `description: base\nresources:\n${resources.join("")}`,
    ...(secret ? { "base/files/secret.txt": secret } : {}),
  };
}

const SECRET = `staging-only ${"s".repeat(4000)}\n`;

async function catalog(s: TestServer, cred: string, environment?: string, node = "x") {
  const res = await s.app.inject({
    method: "POST",
    url: "/api/v1/catalog",
    headers: bearer(cred),
    payload: { facts: facts(node), ...(environment ? { environment } : {}) },
  });
  const body = res.statusCode === 200 ? res.json() : undefined;
  // The motd is the one small (inlined) file; staging's secret, the one fetched by hash.
  const files = Object.entries(
    (body?.catalog.files ?? {}) as Record<string, { size: number; text?: string }>,
  );
  const content = files.find(([, f]) => f.text !== undefined)?.[1].text;
  const fetched = files.filter(([, f]) => f.text === undefined).map(([sha]) => sha);
  return {
    status: res.statusCode,
    environment: res.headers["x-tend-environment"],
    note: res.headers["x-tend-environment-note"] as string | undefined,
    motd: content as string | undefined,
    commit: body?.catalog.commit as string | undefined,
    fetched,
  };
}

for (const storage of testStorages()) {
  t.test(`${storage().name}: nodes in different environments get different catalogs`, async (t) => {
    const repo = new TestRepo();
    t.teardown(() => repo.cleanup());
    const main = repo.commit(recipes("main"), "main");
    const staging = commitOn(repo, "staging", recipes("staging", SECRET), "staging");
    const feature = commitOn(repo, "feature/x", recipes("feature x"), "feature x");
    const s = await startTestServer({
      repo,
      storage: storage(),
      config: { recipes: { repo: repo.dir, branches: ["main", "staging", "feature/*"], poll: "0" } },
    });
    t.teardown(() => s.close());
    const web = await s.enroll("web-1");
    const stage = await s.enroll("stage-1");
    const db = await s.enroll("db-1");

    t.match(await catalog(s, web), {
      status: 200,
      environment: "main",
      motd: "main\n",
      commit: main,
      note: undefined,
    });
    const staged = await catalog(s, stage);
    t.match(
      staged,
      { status: 200, environment: "staging", motd: "staging\n", commit: staging },
      "nodes.yaml puts stage-* on staging",
    );
    t.match(
      await catalog(s, web, "feature/x"),
      { environment: "feature/x", motd: "feature x\n", commit: feature },
      "an allowed request is granted",
    );
    t.match(await catalog(s, web, "staging"), { environment: "staging", commit: staging });
    t.match(await catalog(s, web, "main"), { environment: "main", commit: main, note: undefined });

    // Not allowed: its own environment, and a refusal that says why and how to allow it.
    const refused = await catalog(s, db, "staging", "stage-1");
    t.match(refused, { status: 200, environment: "main", motd: "main\n", commit: main });
    t.match(
      refused.note,
      /environment "staging" refused: nodes\.yaml \(on main\) allows db-1 only "main"; it gets "main"\. Add allow_environments: \["staging"\]/,
    );
    t.match(await s.storage.nodeEnvironment("db-1"), {
      environment: "main",
      requested: "staging",
      note: /refused/,
    });

    // Allowed by glob, but no such branch: refused as not served.
    const missing = await catalog(s, web, "feature/nope");
    t.match(missing, { environment: "main", note: /environment "feature\/nope" refused: it is not served/ });

    // Files: only those of the catalog the node was last served (TRUST B3).
    const secretSha = staged.fetched[0];
    t.same(refused.fetched, [], "main's catalog has no such file");
    t.ok(secretSha, "staging's catalog references the secret by hash");
    const file = (cred: string) => s.app.inject({ url: `/api/v1/files/${secretSha}`, headers: bearer(cred) });
    await catalog(s, stage);
    t.equal((await file(stage)).statusCode, 200, "stage-1 fetches its own catalog's file");
    t.equal((await file(stage)).body, SECRET);
    await catalog(s, db, "staging");
    const denied = await file(db);
    t.equal(denied.statusCode, 404, "db-1 asking for staging's file by hash gets nothing");
    t.notMatch(denied.body, /staging-only/);
    await catalog(s, web, "feature/x");
    t.equal((await file(web)).statusCode, 404, "nor does web-1 while in feature/x");

    // The agent's word is not enough: facts claiming another node, a body naming an unknown key.
    const lying = await s.app.inject({
      method: "POST",
      url: "/api/v1/catalog",
      headers: bearer(db),
      payload: { facts: { ...facts("stage-1"), hostname: "stage-1" }, environment: "../main" },
    });
    t.equal(lying.statusCode, 400, "an environment that is not a branch name is refused");

    // The gate judges staging's commits against staging's nodes.
    commitOn(
      repo,
      "staging",
      { "nodes.yaml": `${rules}- name: "stage-*"\n  recipes: [missing]\n` },
      "breaks stage-1",
    );
    const hook = await s.app.inject({
      method: "POST",
      url: "/api/v1/hooks/git",
      headers: bearer(s.adminToken),
    });
    const st = hook.json().branches.find((b: { branch: string }) => b.branch === "staging");
    t.match(st, { valid: false, live: staging });
    t.match(JSON.stringify(st.errors), /node stage-1/);
    t.match(
      await catalog(s, stage),
      { environment: "staging", commit: staging },
      "stage-1 keeps its last good staging commit",
    );
    t.match(await catalog(s, web), { environment: "main", commit: main });
  });
}

t.test("environment rules count on rules naming nodes only; the validator says so", async (t) => {
  const repo = new TestRepo();
  t.teardown(() => repo.cleanup());
  repo.commit(recipes("main"), "main");
  commitOn(repo, "staging", recipes("staging"), "staging");
  const s = await startTestServer({
    repo,
    config: { recipes: { repo: repo.dir, branches: ["main", "staging"], poll: "0" } },
  });
  t.teardown(() => s.close());
  repo.commit(
    { "nodes.yaml": `${rules}- facts: { os.id: debian }\n  environment: staging\n` },
    "facts choose",
  );
  const r = (
    await s.app.inject({ method: "POST", url: "/api/v1/hooks/git", headers: bearer(s.adminToken) })
  ).json();
  t.equal(r.valid, false);
  t.match(r.errors, [
    {
      file: "nodes.yaml",
      line: 10,
      field: "[4].environment",
      message: /facts are what a node says of itself/,
    },
  ]);
});

t.test("a staging branch's own nodes.yaml cannot pull nodes into it", async (t) => {
  const repo = new TestRepo();
  t.teardown(() => repo.cleanup());
  repo.commit(recipes("main"), "main");
  commitOn(
    repo,
    "staging",
    { ...recipes("staging"), "nodes.yaml": `${rules}- name: "*"\n  environment: staging\n` },
    "grab",
  );
  const s = await startTestServer({
    repo,
    config: { recipes: { repo: repo.dir, branches: ["main", "staging"], poll: "0" } },
  });
  t.teardown(() => s.close());
  const db = await s.enroll("db-1");
  t.match(await catalog(s, db), { environment: "main", motd: "main\n" });
});

/**
 * Rollouts (issue 11) and environments (issue 13) together: a rollout deploys the default
 * environment's commit, so it targets only that environment's nodes, and a node on another branch
 * keeps being served its branch (never pinned to the default branch's commits) while a rollout
 * runs; on SQLite and PostgreSQL.
 */
import t from "tap";
import type { RolloutView } from "../../server/rollouts/view.js";
import { bearer, startTestServer, type TestServer } from "../helpers/server-app.js";
import { commitOn } from "../helpers/server-branches.js";
import { facts, TestRepo } from "../helpers/server-git.js";
import { testStorages } from "../helpers/server-storage.js";

const nodes = '- name: "*"\n  recipes: [base]\n- name: "stage-*"\n  environment: staging\n';
const recipes = (motd: string) => ({
  "nodes.yaml": nodes,
  "base/recipe.yaml": `description: base\nresources:\n  - file: /etc/motd\n    content: "${motd}\\n"\n`,
});

async function served(s: TestServer, cred: string, node: string) {
  const res = await s.app.inject({
    method: "POST",
    url: "/api/v1/catalog",
    headers: bearer(cred),
    payload: { facts: facts(node) },
  });
  return { environment: res.headers["x-tend-environment"], commit: res.json().catalog.commit as string };
}

for (const storage of testStorages()) {
  t.test(`${storage().name}: a rollout targets the default environment's nodes only`, async (t) => {
    const repo = new TestRepo();
    t.teardown(() => repo.cleanup());
    const a = repo.commit(recipes("a"), "a");
    const staging = commitOn(repo, "staging", recipes("staging"), "staging");
    const s = await startTestServer({
      repo,
      storage: storage(),
      config: {
        recipes: { repo: repo.dir, branches: ["main", "staging"], poll: "0" },
        deploy: { on_commit: "manual" },
      },
    });
    t.teardown(() => s.close());
    const creds: Record<string, string> = {};
    for (const n of ["web-1", "web-2", "stage-1"]) {
      creds[n] = await s.enroll(n);
      await served(s, creds[n]!, n);
    }
    t.match(await served(s, creds["stage-1"]!, "stage-1"), { environment: "staging", commit: staging });

    const b = repo.commit(recipes("b"), "b");
    await s.gate.refresh();
    const res = await s.app.inject({
      method: "POST",
      url: "/api/v1/rollouts",
      headers: bearer(s.adminToken),
      payload: { canary: "1" },
    });
    t.equal(res.statusCode, 201, res.body);
    const r = res.json() as RolloutView;
    t.equal(r.commit, b);
    t.same(
      r.waves.flatMap((w) => w.nodes.map((n) => n.node)).sort(),
      ["web-1", "web-2"],
      "stage-1 is not in it",
    );
    t.match(
      await served(s, creds["web-1"]!, "web-1"),
      { environment: "main", commit: b },
      "the canary gets b",
    );
    t.match(
      await served(s, creds["web-2"]!, "web-2"),
      { environment: "main", commit: a },
      "the next wave waits on a",
    );
    t.match(
      await served(s, creds["stage-1"]!, "stage-1"),
      { environment: "staging", commit: staging },
      "staging keeps its branch",
    );
  });
}

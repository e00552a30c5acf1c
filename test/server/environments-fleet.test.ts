/**
 * Issue 13, parts 3 and 4: reports, drift, alerts and /metrics carry the environment; the fleet
 * page filters by it (and its run/plan buttons act on what it shows); a branch deleted from git
 * stops being served and its nodes fall back to the default environment with a warning on the
 * dashboard and in the API. On SQLite and PostgreSQL.
 */
import t from "tap";
import type { Report } from "../../core/types.js";
import { selectNodes } from "../../server/actions/select.js";
import { bearer, startTestServer, type TestServer } from "../helpers/server-app.js";
import { commitOn, envRecipes } from "../helpers/server-branches.js";
import { facts, TestRepo } from "../helpers/server-git.js";
import { makeReport } from "../helpers/server-report.js";
import { testStorages } from "../helpers/server-storage.js";
import { uiLogin } from "../helpers/ui-session.js";

const nodes = '- name: "*"\n  recipes: [base]\n- name: "stage-*"\n  environment: staging\n';

async function pull(s: TestServer, cred: string, node: string) {
  const res = await s.app.inject({
    method: "POST",
    url: "/api/v1/catalog",
    headers: bearer(cred),
    payload: { facts: facts(node) },
  });
  return {
    status: res.statusCode,
    environment: res.headers["x-tend-environment"],
    note: res.headers["x-tend-environment-note"] as string | undefined,
    commit: res.statusCode === 200 ? (res.json().catalog.commit as string) : undefined,
  };
}

async function send(s: TestServer, cred: string, report: Report): Promise<void> {
  const res = await s.app.inject({
    method: "POST",
    url: "/api/v1/reports",
    headers: bearer(cred),
    payload: report,
  });
  if (res.statusCode >= 300) throw new Error(`report: ${res.statusCode} ${res.body}`);
}

for (const storage of testStorages()) {
  t.test(
    `${storage().name}: environments across reports, drift, alerts, the fleet page and /metrics`,
    async (t) => {
      const repo = new TestRepo();
      t.teardown(() => repo.cleanup());
      const main = repo.commit(envRecipes("main", nodes), "main");
      const staging = commitOn(repo, "staging", envRecipes("staging", nodes), "staging");
      const s = await startTestServer({
        repo,
        storage: storage(),
        config: { recipes: { repo: repo.dir, branches: ["main", "staging"], poll: "0" } },
      });
      t.teardown(() => s.close());
      const web = await s.enroll("web-1");
      const stage = await s.enroll("stage-1");
      t.match(await pull(s, web, "web-1"), { environment: "main", commit: main });
      t.match(await pull(s, stage, "stage-1"), { environment: "staging", commit: staging });
      await send(s, web, { ...makeReport("web-1", main), environment: "main" });
      await send(s, stage, {
        ...makeReport("stage-1", staging, { drifted: ["file:/etc/motd"] }),
        environment: "staging",
      });

      const api = async (path: string) =>
        (await s.app.inject({ url: path, headers: bearer(s.adminToken) })).json();
      t.match(await api("/api/v1/nodes"), [
        { name: "stage-1", environment: "staging", environment_note: null },
        { name: "web-1", environment: "main", environment_note: null },
      ]);
      t.match(await api("/api/v1/drift"), [
        { node: "stage-1", resource: "file:/etc/motd", environment: "staging" },
      ]);
      const [latest] = await api("/api/v1/nodes/stage-1/reports");
      t.match(
        await api(`/api/v1/reports/${latest.id}`),
        { environment: "staging" },
        "the stored report carries it",
      );

      await s.deps.alerts.sweep();
      const open = await s.storage.alerts.openConditions(100);
      t.match(
        open.find((c) => c.kind === "drifted"),
        { subject: "stage-1", details: { environment: "staging" } },
        "the drifted alert carries the environment",
      );

      // The fleet page: a filter by environment, and its run/plan selection follows it.
      const login = await uiLogin(s, { token: s.adminToken });
      const fleet = async (q: string) =>
        (await s.app.inject({ url: `/ui/${q}`, headers: { cookie: login.cookie ?? "" } })).body;
      /** The fleet table alone (the open alerts above it name nodes too). */
      const table = (page: string) => /<table class="fleet">[\s\S]*?<\/table>/.exec(page)?.[0] ?? "";
      const all = await fleet("");
      t.match(
        all,
        /<select name="env"><option value="">any<\/option><option>main<\/option><option>staging<\/option>/,
      );
      t.match(all, /stage-1<\/a> <span class="tag env">staging<\/span>/);
      const onStaging = table(await fleet("?env=staging"));
      t.match(onStaging, /stage-1/);
      t.notMatch(onStaging, /web-1/);
      const onMain = table(await fleet("?env=main"));
      t.match(onMain, /web-1/);
      t.notMatch(onMain, /stage-1/);
      t.same(
        await selectNodes(s.deps, { env: "staging" }),
        ["stage-1"],
        "run/plan on the filter selects staging's nodes",
      );
      t.same(await selectNodes(s.deps, { env: "main" }), ["web-1"]);

      const metrics = (await s.app.inject({ url: "/metrics" })).body;
      t.match(metrics, /tend_environment_nodes\{environment="staging",status="changed"\} 1/);
      t.match(metrics, /tend_environment_nodes\{environment="main",status="unchanged"\} 1/);
      t.match(metrics, /tend_environment_drifted_resources\{environment="staging"\} 1/);
      t.match(metrics, /tend_environment_drifted_resources\{environment="main"\} 0/);
      t.match(metrics, new RegExp(`tend_environment_live\\{environment="staging",commit="${staging}"\\} 1`));

      // Part 4: staging is deleted from git. It stops being served; stage-1 falls back to main.
      repo.git("branch", "-D", "staging");
      await s.gate.refresh();
      t.same(s.gate.environments(), ["main"]);
      const fallen = await pull(s, stage, "stage-1");
      t.match(
        fallen,
        { status: 200, environment: "main", commit: main },
        "not nothing: the default environment",
      );
      t.match(
        fallen.note,
        /nodes\.yaml puts stage-1 in environment "staging", which is not served \(its branch has no valid commit, or was deleted\); it gets "main" instead/,
      );
      const envs = await api("/api/v1/environments");
      t.match(envs, {
        default: "main",
        environments: [{ name: "main", live: main, head: main, head_valid: true, nodes: 2 }],
        warnings: [{ node: "stage-1", environment: "main", requested: null, note: /not served/ }],
      });
      t.equal(envs.environments.length, 1);
      t.match(await api("/api/v1/nodes"), [
        { name: "stage-1", environment: "main", environment_note: /not served/ },
      ]);
      const warned = await fleet("");
      t.match(warned, /⚠ 1 node is not in the environment it asked for or nodes\.yaml puts it in/);
      t.match(
        warned,
        /stage-1<\/a> gets <code>main<\/code>: nodes\.yaml puts stage-1 in environment &quot;staging&quot;/,
      );
      const nodePage = (
        await s.app.inject({ url: "/ui/nodes/stage-1", headers: { cookie: login.cookie ?? "" } })
      ).body;
      t.match(nodePage, /<p class="warn" role="alert">⚠ nodes\.yaml puts stage-1/);

      // The branch comes back: served again, stage-1 returns to it and the warning goes.
      const again = commitOn(repo, "staging", envRecipes("staging again", nodes), "staging again");
      await s.gate.refresh();
      t.match(await pull(s, stage, "stage-1"), { environment: "staging", commit: again, note: undefined });
      t.same((await api("/api/v1/environments")).warnings, []);
    },
  );
}

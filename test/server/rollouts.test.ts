/**
 * Rollouts on a real server, a real git repository and both databases (issue 11): a canary then
 * waves, each signalled once the one before is healthy; a canary failing its health check halts
 * the rollout (an alert goes out) while the other nodes keep being served the previous commit;
 * resume, abort, the timeout; `deploy.on_commit` push, auto and manual; the API's roles, audit
 * entries and errors.
 */
import t from "tap";
import type { RolloutSummary, RolloutView } from "../../server/rollouts/view.js";
import { rolloutFleet, signalsSince } from "../helpers/rollouts.js";
import { bearer, startTestServer, type TestServer } from "../helpers/server-app.js";
import { goodRecipes } from "../helpers/server-git.js";
import { testStorages } from "../helpers/server-storage.js";

const motd = (text: string) => ({
  "base/recipe.yaml": `description: base\nresources:\n  - file: /etc/motd\n    content: "${text}\\n"\n`,
});

async function api(
  s: TestServer,
  method: "GET" | "POST",
  url: string,
  payload?: object,
  token = s.adminToken,
) {
  const res = await s.app.inject({
    method,
    url,
    headers: bearer(token),
    ...(method === "POST" ? { payload: payload ?? {} } : {}),
  });
  return { status: res.statusCode, json: res.json() as Reply };
}

/** A rollout, a list of them, or an error: what the API answers. */
type Reply = RolloutView & { rollouts: RolloutSummary[]; code: string; message: string };

const nodeStates = (r: RolloutView) =>
  Object.fromEntries(r.waves.flatMap((w) => w.nodes.map((n) => [n.node, n.state])));

for (const storage of testStorages()) {
  t.test(`${storage().name}: canary, halt on a failing health check, resume, waves, done`, async (t) => {
    const s = await startTestServer({ storage: storage(), config: { deploy: { on_commit: "manual" } } });
    t.teardown(() => s.close());
    const names = ["web-1", "web-2", "web-3", "web-4", "web-5"];
    const fleet = await rolloutFleet(s, names);
    const a = s.gate.live?.sha ?? "";
    await fleet.converge();
    const b = s.repo.commit(motd("release b"), "release b");
    await s.gate.refresh();
    t.equal(s.gate.live?.sha, b, "b is live");
    t.equal(await fleet.served("web-3"), a, "manual: a node keeps its commit until a deploy reaches it");
    const before = (await s.storage.lastSignalId()) ?? 0;
    t.same(await signalsSince(s, before), [], "and nobody was signalled");

    const operator = await s.tokenFor("operator");
    const viewer = await s.tokenFor("viewer");
    t.equal((await api(s, "POST", "/api/v1/rollouts", {}, viewer)).status, 403, "a viewer cannot deploy");
    const started = await api(s, "POST", "/api/v1/rollouts", { canary: "1", waves: 2 }, operator);
    t.equal(started.status, 201, JSON.stringify(started.json));
    const id = started.json.id as number;
    t.match(started.json, { commit: b, from: a, state: "running", started_by: /^token:/, nodes: "*" });
    t.same(
      started.json.waves.map((w) => [w.name, w.nodes.map((n) => n.node)]),
      [
        ["canary", ["web-1"]],
        ["wave 2", ["web-2", "web-3"]],
        ["wave 3", ["web-4", "web-5"]],
      ],
      "a canary of one node, then the rest in two waves",
    );
    t.same(
      await signalsSince(s, before),
      [{ kind: "run", nodes: ["web-1"] }],
      "only the canary is signalled",
    );
    t.equal(await fleet.served("web-1"), b, "the canary is served b");
    t.equal(await fleet.served("web-2"), a, "the others keep a");

    await fleet.report("web-1", b, { fail: true });
    let r = (await api(s, "GET", `/api/v1/rollouts/${id}`, undefined, viewer)).json;
    t.match(r, { state: "halted", reason: "the canary failed on web-1" });
    t.match(nodeStates(r), { "web-1": "failed", "web-2": "pending" });
    t.match(r.waves[0]?.nodes[0]?.error, /check http:\/\/127\.0\.0\.1:8080\/health failed: HTTP 500/);
    t.ok(r.waves[0]?.nodes[0]?.report_id, "the failed node links to its report");
    const open = await s.storage.alerts.openConditions(100);
    t.match(
      open.find((c) => c.kind === "rollout-halted"),
      { subject: `rollout-${id}`, details: { rollout_id: id, commit: b, failing_count: 1 } },
      "an alert condition rollout-halted is open",
    );
    await s.deps.deploys.engine.progress.tick();
    t.same(
      await signalsSince(s, before),
      [{ kind: "run", nodes: ["web-1"] }],
      "halted: the rest is not signalled",
    );
    t.equal(await fleet.served("web-5"), a, "and the rest keeps being served a at its scheduled pull");

    const resumed = await api(s, "POST", `/api/v1/rollouts/${id}/resume`, {}, operator);
    t.match(resumed, { status: 200, json: { state: "running" } });
    t.match(nodeStates(resumed.json), { "web-1": "running" });
    await fleet.report("web-1", b, { changed: true });
    r = (await api(s, "GET", `/api/v1/rollouts/${id}`)).json;
    t.match(
      r.waves.map((w) => w.state),
      ["done", "running", "pending"],
      "the canary is done, wave 2 runs",
    );
    t.equal(await fleet.served("web-2"), b);
    t.equal(await fleet.served("web-4"), a, "wave 3 still gets a");
    await fleet.converge(["web-2", "web-3"]);
    await fleet.converge(["web-4", "web-5"]);
    r = (await api(s, "GET", `/api/v1/rollouts/${id}`)).json;
    t.match(r, { state: "done", counts: { changed: 1, unchanged: 4, failed: 0, pending: 0, running: 0 } });
    t.same(
      (await signalsSince(s, before)).map((x) => x.nodes),
      [["web-1"], ["web-1"], ["web-2", "web-3"], ["web-4", "web-5"]],
      "each wave signalled once; the resumed canary once more",
    );
    const list = await api(s, "GET", "/api/v1/rollouts?limit=5", undefined, viewer);
    t.match(list.json.rollouts, [{ id, state: "done", commit: b }]);
    const audit = await s.storage.readAudit({ limit: 20 });
    t.match(
      audit.map((e) => e.action).filter((x) => x.startsWith("rollout.")),
      ["rollout.resume", "rollout.start"],
      "the audit log has the start and the resume",
    );
  });

  t.test(
    `${storage().name}: abort serves every node the previous commit again; a silent wave times out`,
    async (t) => {
      let clock = Date.now();
      const s = await startTestServer({
        storage: storage(),
        config: { deploy: { on_commit: "manual", timeout: "30s" } },
        now: () => clock,
      });
      t.teardown(() => s.close());
      const fleet = await rolloutFleet(s, ["db-1", "db-2", "db-3"]);
      const a = s.gate.live?.sha ?? "";
      await fleet.converge();
      const b = s.repo.commit(motd("release b"), "release b");
      await s.gate.refresh();
      const started = await api(s, "POST", "/api/v1/rollouts", { nodes: "db-*", waves: 1 });
      const id = started.json.id as number;
      await fleet.report("db-1", b);
      t.equal(await fleet.served("db-2"), b, "wave 2 was signalled and is served b");
      clock += 31_000;
      await s.deps.deploys.engine.progress.tick();
      let r = (await api(s, "GET", `/api/v1/rollouts/${id}`)).json;
      t.match(r, { state: "halted", reason: "wave 2 failed on db-2, db-3" });
      t.match(r.waves[1]?.nodes[0]?.error, /no report on [0-9a-f]{12} within 30 s/);

      const aborted = await api(s, "POST", `/api/v1/rollouts/${id}/abort`, {});
      t.match(aborted, { status: 200, json: { state: "aborted", reason: /^aborted by token:/ } });
      for (const n of ["db-1", "db-2", "db-3"]) t.equal(await fleet.served(n), a, `${n} is served a again`);
      const again = await api(s, "POST", `/api/v1/rollouts/${id}/resume`, {});
      t.match(again, {
        status: 409,
        json: { code: "TEND_E_ROLLOUT_STATE", message: /aborted; only a halted/ },
      });
      r = (await api(s, "GET", "/api/v1/rollouts/999")).json;
      t.match(r, { code: "TEND_E_HTTP_NOT_FOUND" });
      const open = await s.storage.alerts.openConditions(100);
      t.match(
        open.find((c) => c.kind === "rollout-halted") ?? { state: "gone" },
        { state: /clearing|gone/ },
        "the alert resolves",
      );
    },
  );

  t.test(`${storage().name}: on_commit auto starts a rollout; push signals everyone as before`, async (t) => {
    const auto = await startTestServer({
      storage: storage(),
      config: { deploy: { on_commit: "auto", canary: "50%" } },
    });
    t.teardown(() => auto.close());
    const fleet = await rolloutFleet(auto, ["app-1", "app-2", "app-3", "app-4"]);
    const a = auto.gate.live?.sha ?? "";
    await fleet.converge();
    const before = await auto.storage.lastSignalId();
    const b = auto.repo.commit(motd("auto"), "auto");
    await auto.gate.refresh();
    await new Promise((r) => setTimeout(r, 200)); // onPromote runs after the refresh resolves
    const [r] = (await api(auto, "GET", "/api/v1/rollouts")).json.rollouts;
    t.match(r, { commit: b, from: a, started_by: "git:on_commit", state: "running", canary: "50%" });
    t.same(
      await signalsSince(auto, before),
      [{ kind: "run", nodes: ["app-1", "app-2"] }],
      "the canary alone",
    );
    t.equal(await fleet.served("app-3"), a, "the rest keeps a");

    const push = await startTestServer({ storage: storage() });
    t.teardown(() => push.close());
    const pf = await rolloutFleet(push, ["p-1", "p-2"]);
    await pf.converge();
    const pb = await push.storage.lastSignalId();
    const c = push.repo.commit(motd("push"), "push");
    await push.gate.refresh();
    await new Promise((r) => setTimeout(r, 200));
    t.same(await signalsSince(push, pb), [{ kind: "commit", nodes: ["*"] }], "push: every node, as before");
    t.equal(await pf.served("p-2"), c, "and every node gets the live commit");
    t.same((await api(push, "GET", "/api/v1/rollouts")).json.rollouts, []);
  });
}

t.test("bad requests: a clear error, nothing started", async (t) => {
  const s = await startTestServer({ recipes: goodRecipes });
  t.teardown(() => s.close());
  await rolloutFleet(s, ["web-1"]);
  const cases: [object, number, RegExp][] = [
    [{ canary: "lots" }, 400, /canary/],
    [{ waves: 0 }, 400, /waves/],
    [{ pause: "2 minutes" }, 400, /pause/],
    [{ nodes: "db-*" }, 409, /No enrolled node of the default environment matches "db-\*"/],
    [{ commit: "0".repeat(40) }, 409, /Only the live commit/],
    [{ surprise: 1 }, 400, /surprise|additional/],
  ];
  for (const [body, status, message] of cases) {
    const r = await api(s, "POST", "/api/v1/rollouts", body);
    t.equal(r.status, status, JSON.stringify(body));
    t.match(r.json.message, message);
  }
  t.same((await api(s, "GET", "/api/v1/rollouts")).json.rollouts, []);
});

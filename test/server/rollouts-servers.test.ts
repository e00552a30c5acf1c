/**
 * Two servers on one PostgreSQL moving one rollout (issue 11): a rollout started on A, its canary's
 * report taken by B, both servers' timers evaluating it at once, many times over: each wave is
 * signalled exactly once, and both serve the same pins.
 */
import t from "tap";
import { rolloutFleet, signalsSince } from "../helpers/rollouts.js";
import { bearer, startTestServer } from "../helpers/server-app.js";
import { facts } from "../helpers/server-git.js";
import { makeReport } from "../helpers/server-report.js";
import { noPgReason, pgUrl, postgresStorage } from "../helpers/server-storage.js";

t.test("one rollout, two servers: every wave advanced once", { skip: !pgUrl && noPgReason }, async (t) => {
  const db = postgresStorage(pgUrl!);
  const config = { deploy: { on_commit: "manual" } };
  const a = await startTestServer({ storage: db, config });
  const b = await startTestServer({ storage: { ...db, cleanup: async () => {} }, config, repo: a.repo });
  t.teardown(async () => {
    await b.close();
    await a.close();
  });
  const names = Array.from({ length: 9 }, (_, i) => `n-${i + 1}`);
  const onA = await rolloutFleet(a, names);
  await onA.converge();
  const v2 = a.repo.commit({ "README.md": "v2\n" }, "v2");
  await a.gate.refresh();
  await b.gate.refresh();
  const mark = await a.storage.lastSignalId();
  const started = await a.app.inject({
    method: "POST",
    url: "/api/v1/rollouts",
    headers: bearer(a.adminToken),
    payload: { waves: 2 },
  });
  const id = started.json().id as number;
  const storm = async () => {
    const ticks = [];
    for (let i = 0; i < 10; i++)
      ticks.push(a.deps.deploys.engine.progress.tick(), b.deps.deploys.engine.progress.tick());
    await Promise.all(ticks);
  };
  /** The node pulls from one server (which must serve it v2 now) and reports there. */
  const report = async (node: string) => {
    const s = Number(node.slice(2)) % 2 ? a : b;
    const headers = bearer(onA.creds[node] ?? "");
    const cat = await s.app.inject({
      method: "POST",
      url: "/api/v1/catalog",
      headers,
      payload: { facts: facts(node) },
    });
    t.equal(cat.headers["x-tend-commit"], v2, `${node} is served v2`);
    const res = await s.app.inject({
      method: "POST",
      url: "/api/v1/reports",
      headers,
      payload: makeReport(node, v2),
    });
    t.equal(res.statusCode, 201);
  };
  await Promise.all([report("n-1"), storm()]);
  await storm();
  const wave2 = ["n-2", "n-3", "n-4", "n-5"];
  await Promise.all([...wave2.map(report), storm()]);
  await storm();
  await Promise.all([...["n-6", "n-7", "n-8", "n-9"].map(report), storm()]);
  await storm();
  t.same(
    (await signalsSince(a, mark)).map((x) => x.nodes),
    [["n-1"], wave2, ["n-6", "n-7", "n-8", "n-9"]],
    "each wave signalled once, whichever server saw its last report",
  );
  const r = (await b.app.inject({ url: `/api/v1/rollouts/${id}`, headers: bearer(b.adminToken) })).json();
  t.match(r, { state: "done", counts: { unchanged: 9 } });
});

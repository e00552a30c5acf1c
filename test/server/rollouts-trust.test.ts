/**
 * What a rollout believes (issues 11 and 15): a node is counted on the rollout's commit only when
 * the server served it that commit, so a node naming a commit it was never served moves no wave;
 * and the report hot path, which runs no rollout UPDATE while no rollout exists yet sees one started
 * by another server at once. On SQLite and PostgreSQL.
 */
import t from "tap";
import type { RolloutView } from "../../server/rollouts/view.js";
import type { Driver } from "../../server/storage/driver.js";
import { SqlRolloutStorage } from "../../server/storage/sql/rollouts.js";
import type { Storage } from "../../server/storage/types.js";
import { rolloutFleet, signalsSince } from "../helpers/rollouts.js";
import { bearer, startTestServer } from "../helpers/server-app.js";
import { testStorages } from "../helpers/server-storage.js";

const motd = (text: string) => ({
  "base/recipe.yaml": `description: base\nresources:\n  - file: /etc/motd\n    content: "${text}\\n"\n`,
});

/** The storage's driver, every statement it is given written down. */
function recorded(storage: Storage): { db: Driver; statements: string[] } {
  const db = (storage as unknown as { db: Driver }).db;
  const statements: string[] = [];
  const query: Driver["query"] = (sql, params) => {
    statements.push(sql.trim().split(/\s+/)[0] ?? "");
    return db.query(sql, params);
  };
  return {
    statements,
    db: {
      kind: db.kind,
      query,
      tx: (fn) => db.tx(fn),
      migrate: (s) => db.migrate(s),
      tryLock: (name, fn) => db.tryLock(name, fn),
      close: () => db.close(),
    },
  };
}

for (const storage of testStorages()) {
  t.test(`${storage().name}: a report of a commit never served to its node moves no wave`, async (t) => {
    const s = await startTestServer({ storage: storage(), config: { deploy: { on_commit: "manual" } } });
    t.teardown(() => s.close());
    const fleet = await rolloutFleet(s, ["web-1", "web-2", "web-3"]);
    await fleet.converge();
    const b = s.repo.commit(motd("release b"), "release b");
    await s.gate.refresh();
    const mark = (await s.storage.lastSignalId()) ?? 0;
    const started = await s.app.inject({
      method: "POST",
      url: "/api/v1/rollouts",
      headers: bearer(s.adminToken),
      payload: { canary: "1", waves: 1 },
    });
    t.equal(started.statusCode, 201, started.body);
    const id = started.json().id as number;
    const view = async () =>
      (
        await s.app.inject({ url: `/api/v1/rollouts/${id}`, headers: bearer(s.adminToken) })
      ).json() as RolloutView;
    const states = (r: RolloutView) =>
      Object.fromEntries(r.waves.flatMap((w) => w.nodes.map((n) => [n.node, n.state])));

    // The canary claims b before pulling it: stored as unverified, not counted.
    await fleet.report("web-1", b, { unserved: true });
    await s.deps.deploys.engine.progress.tick();
    let r = await view();
    t.match(r, { state: "running", counts: { running: 1, pending: 2 } });
    t.same(
      states(r),
      { "web-1": "running", "web-2": "pending", "web-3": "pending" },
      "the canary still runs",
    );
    t.equal(r.waves[0]?.nodes[0]?.report_id, null, "and no report settled it");
    t.same(await signalsSince(s, mark), [{ kind: "run", nodes: ["web-1"] }], "wave 2 is not signalled");
    t.match((await s.app.inject({ url: "/metrics" })).body, /tend_reports_unverified_commit_total 1\n/);

    // Pulled, then reported: counted, and wave 2 goes.
    await fleet.report("web-1", b);
    r = await view();
    t.same(
      r.waves.map((w) => w.state),
      ["done", "running"],
      "the canary is done once it reports what it was served",
    );
    t.same(
      (await signalsSince(s, mark)).map((x) => x.nodes),
      [["web-1"], ["web-2", "web-3"]],
    );

    // In one wave, an honest node counts and one claiming b unserved does not.
    await fleet.report("web-2", b);
    await fleet.report("web-3", b, { unserved: true });
    r = await view();
    t.match(r, { state: "running" });
    t.match(states(r), { "web-2": "unchanged", "web-3": "running" }, "web-3 is not counted");
    await fleet.report("web-3", b);
    t.match(await view(), { state: "done", counts: { unchanged: 3, running: 0 } });
  });

  t.test(
    `${storage().name}: no rollout UPDATE before a rollout exists; another server's first one is seen at once`,
    async (t) => {
      const ts = storage();
      const here = await ts.open();
      // PostgreSQL: another server is its own pool on the same schema. SQLite has one owner, the
      // only one that can start a rollout there.
      const other = ts.name === "postgres" ? await ts.open() : undefined;
      t.teardown(async () => {
        await other?.close();
        await here.close();
        await ts.cleanup();
      });
      const { db, statements } = recorded(here);
      const rollouts = new SqlRolloutStorage(db);
      const creator = other?.rollouts ?? rollouts;
      const commit = "c".repeat(40);
      const outcome = (id: string) => ({
        node: "web-1",
        id,
        commit,
        noop: false,
        state: "unchanged" as const,
        changed: 0,
        error: null,
      });

      for (const id of ["r1", "r2", "r3"]) t.same(await rollouts.recordReport(outcome(id), 1), []);
      t.notOk(statements.includes("UPDATE"), "no rollout, no UPDATE");
      t.equal(
        statements.filter((x) => x === "SELECT").length,
        ts.name === "postgres" ? 3 : 1,
        ts.name === "postgres"
          ? "PostgreSQL: each report reads the table (another server may start one)"
          : "SQLite: the table is read once",
      );

      const id = await creator.create({
        commit,
        from: null,
        noop: false,
        nodes: "*",
        canary: "1",
        pauseMs: 0,
        timeoutMs: 600_000,
        startedBy: "test",
        startedAt: 2,
        waves: [["web-1"]],
        already: new Set(),
      });
      t.same(await creator.startWave(id, 0, 3), ["web-1"]);
      statements.length = 0;
      t.same(await rollouts.recordReport(outcome("r4"), 4), [id], "the report counts for it");
      t.match(await creator.get(id), {
        waves: [{ nodes: [{ node: "web-1", state: "unchanged", reportId: "r4" }] }],
      });
      statements.length = 0;
      await rollouts.recordReport(outcome("r5"), 5);
      t.same(statements, ["UPDATE"], "once a rollout exists, the UPDATE alone, as before");
    },
  );
}

/**
 * TRUST H1 (SQLite): 500 reports posted at once to a real server process — while another process
 * writes the same database file (`tend server token create`) — are all stored: no SQLITE_BUSY,
 * no 5xx reaches a client.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { Agent, request } from "undici";
import { goodRecipes, TestRepo } from "../helpers/server-git.js";
import { spawnServer, stop, tendServer } from "../helpers/server-process.js";
import { makeReport } from "../helpers/server-report.js";

t.test("500 concurrent report inserts on SQLite: every one stored, no SQLITE_BUSY", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tend-busy-"));
  const repo = new TestRepo();
  repo.commit(goodRecipes);
  const config = join(dir, "server.yaml");
  writeFileSync(
    config,
    `listen: 127.0.0.1:0\ndata_dir: ${dir}/data\nlog_level: warn\n` +
      `recipes:\n  repo: ${repo.dir}\n  branch: main\n  poll: 0\n`,
  );
  const token = (await tendServer(["token", "create", "--config", config])).stdout.trim();
  const p = await spawnServer(config);
  const agent = new Agent({ connections: 500 });
  t.teardown(async () => {
    await stop(p);
    await agent.close();
    repo.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const enrolled = await request(`${p.url}/api/v1/enroll`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token, node: "web-1" }),
  });
  const { credential } = (await enrolled.body.json()) as { credential: string };
  const reports = Array.from({ length: 500 }, () => makeReport("web-1", null, { count: 50 }));
  const post = async (body: string) => {
    const res = await request(`${p.url}/api/v1/reports`, {
      method: "POST",
      dispatcher: agent,
      headers: { "content-type": "application/json", authorization: `Bearer ${credential}` },
      body,
    });
    return { status: res.statusCode, text: await res.body.text() };
  };
  const [results] = await Promise.all([
    Promise.all(reports.map((r) => post(JSON.stringify(r)))),
    // Another process writing the same file meanwhile.
    tendServer(["token", "create", "--config", config]),
    tendServer(["token", "create", "--admin", "--config", config]),
  ]);
  const statuses: Record<number, number> = {};
  for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  t.same(statuses, { 201: 500 }, "all 500 answered 201");
  t.notOk(
    results.some((r) => /BUSY|locked/i.test(r.text)),
    "no SQLITE_BUSY or 'database is locked' in any answer",
  );
  t.notMatch(p.stderr(), /SQLITE_BUSY|database is locked/, "nor in the server log");
});

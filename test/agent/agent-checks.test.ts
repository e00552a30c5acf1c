/**
 * Health checks through the whole pull path: a commit whose recipes declare checks, the server's
 * signed catalog carrying them, the agent verifying it, probing a service on loopback and sending
 * the report, and the server storing the checks as sent and marking the node failed when one
 * fails. The report schema takes reports with and without checks and refuses malformed ones.
 */
import { createServer } from "node:http";
import t from "tap";
import { agentRun } from "../../agent/run.js";
import { main } from "../../cli/commands/agent.js";
import type { Report } from "../../core/types.js";
import { agentRecipes, startAgentEnv, testFacts } from "../helpers/agent-env.js";
import { bearer } from "../helpers/server-app.js";
import { makeReport } from "../helpers/server-report.js";

let healthy = true;
const service = createServer((_req, res) => (healthy ? res.end("ok\n") : res.writeHead(500).end("boom\n")));
await new Promise<void>((r) => service.listen(0, "127.0.0.1", r));
const port = (service.address() as { port: number }).port;
t.teardown(() => service.close());

const env = await startAgentEnv();
t.teardown(() => env.close());
const quiet = { facts: testFacts("agent-1"), http: { attempts: 1 } };
const token = await env.server.enrollToken();
const enrol = [
  "enroll",
  "--server",
  env.url,
  "--token",
  token,
  "--node",
  env.node,
  "--config",
  env.configFile,
  "--state-dir",
  env.stateDir,
];
if ((await main(enrol)) !== 0) throw new Error("enrolment failed");
const recipes = agentRecipes(env.target);
env.server.repo.commit({
  ...recipes,
  "base/recipe.yaml": `${recipes["base/recipe.yaml"]}checks:\n  - http: http://127.0.0.1:${port}/healthz\n    contains: ok\n  - tcp: 127.0.0.1:${port}\n    require: []\n`,
});
await env.server.gate.refresh();

t.test("the agent runs the checks of its signed catalog and the server stores them", async (t) => {
  const { report, flush } = await agentRun(env.config(), quiet);
  t.equal(report.status, "changed");
  t.same(
    report.checks?.map((c) => [c.id, c.status, c.reason]),
    [
      [`http:http://127.0.0.1:${port}/healthz`, "ok", "status 200, body has 'ok'"],
      [`tcp:127.0.0.1:${port}`, "ok", `connected to 127.0.0.1:${port}`],
    ],
  );
  t.same(flush, { sent: 1, rejected: 0, left: 0 });
  const stored = (await env.admin(`/api/v1/reports/${report.id}`)) as Report;
  t.same(stored.checks, report.checks, "stored as sent");
  t.same(stored.summary, report.summary);
});

t.test("a failing check fails the run, and the server sees the node failed", async (t) => {
  healthy = false;
  t.teardown(() => {
    healthy = true;
  });
  const { report } = await agentRun(env.config(), quiet);
  t.equal(report.status, "failed");
  t.match(report.checks?.[0], { status: "failed", reason: "status 500, wanted 2xx", excerpt: "boom\n" });
  const nodes = (await env.admin("/api/v1/nodes")) as { name: string; last_status: string }[];
  t.equal(nodes.find((n) => n.name === env.node)?.last_status, "failed");
});

t.test("reports with and without checks are valid; a malformed check is refused", async (t) => {
  const cred = await env.server.enroll("web-9");
  const post = (payload: unknown) =>
    env.server.app.inject({
      method: "POST",
      url: "/api/v1/reports",
      headers: bearer(cred),
      payload: payload as object,
    });
  t.equal((await post(makeReport("web-9", null))).statusCode, 201, "a report from an agent before checks");
  const check = {
    id: "tcp:db:5432",
    type: "tcp",
    status: "failed",
    attempts: 3,
    duration_ms: 12,
    reason: "x",
  };
  const withChecks = {
    ...makeReport("web-9", null),
    status: "failed",
    checks: [check],
    summary: { ...makeReport("web-9", null).summary, checks_total: 1, checks_failed: 1, checks_skipped: 0 },
  };
  t.equal((await post(withChecks)).statusCode, 201);
  for (const bad of [
    { ...check, status: "sort of" },
    { ...check, excerpt: "x".repeat(513) },
    { ...check, attempts: -1 },
    { ...check, reason: undefined },
  ]) {
    const res = await post({ ...withChecks, id: crypto.randomUUID(), checks: [bad] });
    t.equal(res.statusCode, 400, JSON.stringify(bad).slice(0, 80));
  }
});

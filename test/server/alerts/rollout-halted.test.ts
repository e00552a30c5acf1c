/**
 * A halted rollout pages (issue 11): its canary's failing health check raises rollout-halted, which
 * the signed webhook (on: all) receives with the failing node, its report and a link to the
 * rollout's page; the sinks that did not ask for it get nothing; a resume resolves it.
 */
import t from "tap";
import { alertRig, deliverUntil } from "../../helpers/alert-server.js";
import { rolloutFleet } from "../../helpers/rollouts.js";
import { bearer } from "../../helpers/server-app.js";

t.test("a halted rollout reaches the sinks that take it; a resume resolves it", async (t) => {
  const rig = await alertRig({ config: { deploy: { on_commit: "manual" } } });
  t.teardown(() => rig.close());
  const { s, pd, hook } = rig;
  const fleet = await rolloutFleet(s, ["web-1", "web-2"]);
  await fleet.converge();
  const v2 = s.repo.commit({ "README.md": "v2\n" }, "v2");
  await s.gate.refresh();
  const started = await s.app.inject({
    method: "POST",
    url: "/api/v1/rollouts",
    headers: bearer(s.adminToken),
    payload: {},
  });
  const id = started.json().id as number;
  await fleet.served("web-1");
  await fleet.report("web-1", v2, { fail: true });
  await deliverUntil(s, () => hook.received.some((r) => r.body.kind === "rollout-halted"));
  const event = hook.received.find((r) => r.body.kind === "rollout-halted")?.body;
  t.match(event, {
    action: "trigger",
    kind: "rollout-halted",
    subject: `rollout-${id}`,
    node: null,
    severity: "error",
    dedup_key: `tend/rollout-${id}/rollout-halted`,
    summary: `rollout ${id} of ${v2.slice(0, 12)} halted: the canary failed on web-1`,
    link: new RegExp(`/ui/rollouts/${id}$`),
    report_url: /\/ui\/reports\/[0-9a-f-]+$/,
    details: {
      rollout_id: id,
      commit: v2,
      failing_count: 1,
      failing_nodes: [{ node: "web-1", error: /check http:\/\/127\.0\.0\.1:8080\/health failed/ }],
    },
  });
  t.notOk(
    pd.received.some((r) => String(r.body.dedup_key).includes("rollout")),
    "PagerDuty (on: failing, stale, refused-commit) is not paged for it",
  );
  await s.app.inject({
    method: "POST",
    url: `/api/v1/rollouts/${id}/resume`,
    headers: bearer(s.adminToken),
    payload: {},
  });
  await deliverUntil(s, () =>
    hook.received.some((r) => r.body.kind === "rollout-halted" && r.body.action === "resolve"),
  );
  t.pass("resumed: the condition resolves");
});

/**
 * A commit the git gate refuses (a real repository, test/helpers/server-git.ts) pages once with
 * its file:line problems; the next valid commit resolves it. A verdict recorded without its alert
 * (the server stopped between them) is caught up by the sweeper.
 */
import t from "tap";
import { alertRig, deliverUntil } from "../../helpers/alert-server.js";
import { testStorages } from "../../helpers/server-storage.js";

for (const [i, make] of testStorages().entries()) {
  t.test(`refused commits (${i === 0 ? "sqlite" : "postgres"})`, async (t) => {
    const rig = await alertRig({ storage: make() });
    t.teardown(() => rig.close());
    const { s, pd, slack, hook } = rig;
    const bad = s.repo.commit(
      { "nodes.yaml": '- name: "*"\n  recipes: [base, missing]\n' },
      "break the classification",
    );
    const verdict = await s.gate.refresh();
    t.equal(verdict.valid, false, "the gate refuses it");
    await deliverUntil(
      s,
      () => pd.received.length === 1 && slack.received.length === 1 && hook.received.length === 1,
    );
    t.match(pd.received[0]?.body, {
      event_action: "trigger",
      dedup_key: "tend/recipes/refused-commit",
      payload: {
        summary: new RegExp(`^commit ${bad.slice(0, 8)} refused: nodes\\.yaml:2`),
        source: "tend",
        severity: "error",
        component: "recipes",
        custom_details: { commit: bad, problems: [/nodes\.yaml:2.*missing/], problem_count: 1 },
      },
    });
    t.match(String(slack.received[0]?.body.text), /<http:\/\/127\.0\.0\.1:7420\/ui\/commits\|Open commits>/);
    s.repo.commit({ "nodes.yaml": '- name: "*"\n  recipes: [base, also-missing]\n' }, "still broken");
    await s.gate.refresh();
    await deliverUntil(s, () => false, 5);
    t.equal(pd.received.length, 1, "a second refused commit while the first is open pages nobody");
    s.repo.commit({ "nodes.yaml": '- name: "*"\n  recipes: [base]\n' }, "fix it");
    t.equal((await s.gate.refresh()).valid, true);
    await deliverUntil(s, () => pd.received.length === 2);
    t.match(pd.received[1]?.body, { event_action: "resolve", dedup_key: "tend/recipes/refused-commit" });
    t.match(hook.received.at(-1)?.body, {
      action: "resolve",
      kind: "refused-commit",
      subject: "recipes",
      node: null,
    });

    // The verdict of a gate that stopped before its alert: the sweeper raises it from the verdict.
    await s.storage.recordCommit({
      sha: "f".repeat(40),
      valid: false,
      problems: [{ code: "TEND_E_YAML", message: "does not parse", file: "nodes.yaml", line: 1 }],
      seen_at: Date.now() + 1000,
      summary: "1 error(s): broken",
    });
    await s.deps.alerts.sweep();
    await deliverUntil(s, () => pd.received.length === 3);
    t.match(pd.received[2]?.body, {
      event_action: "trigger",
      payload: { summary: /^commit ffffffff refused: nodes\.yaml:1: does not parse/ },
    });
    t.same(pd.invalid.concat(slack.invalid, hook.invalid), []);
  });
}

// One outcome reads the same on the dashboard as in the CLI: a planned resource whose check fails
// only because the change it depends on has not been made is `unknown`, with that reason, not a
// red error beside a summary that says "0 failed".
import t from "tap";
import { formatResource } from "../../agent/output.js";
import type { ResourceReport } from "../../core/types.js";
import { resourceList } from "../../server/ui/pages/resources.js";

const unknown: ResourceReport = {
  id: "service:ssh",
  type: "service",
  status: "unknown",
  drifted: false,
  changes: [],
  diff: null,
  error: "service:ssh: systemctl show ssh exited 1: System has not been booted with systemd",
  duration_ms: 3,
};
const failed: ResourceReport = { ...unknown, id: "service:cron", status: "failed" };

t.test("an unknown resource shows its reason, in the words the CLI uses", async (t) => {
  const page = resourceList([unknown]).toString();
  t.notMatch(page, /class="error"/, "not shown as an error");
  t.match(
    page,
    "unknown: depends on a change above; checking it now fails: service:ssh: systemctl show ssh exited 1",
  );
  const cli = formatResource(unknown, { color: false });
  t.match(
    cli,
    "unknown (depends on a change above; checking it now fails: service:ssh: systemctl show ssh exited 1",
  );
});

t.test("a failed resource still shows its error as one", async (t) => {
  t.match(resourceList([failed]).toString(), /<pre class="error">service:ssh: systemctl show ssh exited 1/);
});

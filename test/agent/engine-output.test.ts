/** The plan as people read it: markers, property changes, diffs, colour only on request, the summary. */
import t from "tap";
import { formatCheck, formatReport, formatResource, formatSummary } from "../../agent/output.js";
import { summarize, summarizeChecks } from "../../agent/report.js";
import { logLine } from "../../cli/commands/agent-run.js";
import type { CheckReport, Report, ResourceReport } from "../../core/types.js";

const plain = { color: false };

function res(
  id: string,
  status: ResourceReport["status"],
  more: Partial<ResourceReport> = {},
): ResourceReport {
  const type = id.split(":")[0] as ResourceReport["type"];
  return { id, type, status, drifted: false, changes: [], diff: null, error: null, duration_ms: 1, ...more };
}

function report(resources: ResourceReport[], mode: Report["mode"] = "apply"): Report {
  const summary = summarize(resources);
  return {
    format: 1,
    id: "00000000-0000-0000-0000-000000000000",
    node: "n",
    commit: null,
    mode,
    status: "changed",
    started_at: "2026-01-01T00:00:00.000Z",
    duration_ms: 210,
    catalog_source: "local",
    catalog_age_s: 0,
    summary,
    resources,
  };
}

const diff = "Index: /etc/motd\n===\n--- /etc/motd\n+++ /etc/motd\n@@ -1 +1 @@\n-old\n+new\n";
const cases: [string, ResourceReport, string][] = [
  ["an unchanged resource prints nothing", res("file:/a", "unchanged"), ""],
  [
    "a change in place lists its properties, short values from → to, then the diff",
    res("file:/etc/motd", "changed", {
      changes: [
        { property: "content", from: "sha256:1", to: "sha256:2" },
        { property: "mode", from: "0600", to: "0644" },
      ],
      diff,
    }),
    "~ file:/etc/motd  content, mode\n    mode: 0600 → 0644\n    --- /etc/motd\n    +++ /etc/motd\n    @@ -1 +1 @@\n    -old\n    +new\n",
  ],
  [
    "a create is a plus",
    res("package:nginx", "would-change", {
      changes: [{ property: "ensure", from: "absent", to: "installed" }],
    }),
    "+ package:nginx\n",
  ],
  [
    "a removal is a minus, drift is marked",
    res("user:bob", "changed", {
      drifted: true,
      changes: [{ property: "ensure", from: "present", to: "absent" }],
    }),
    "- user:bob  (drift)\n",
  ],
  [
    "a failure shows its first line on the line, the rest and the output's tail under it",
    res("service:nginx", "failed", {
      error: "did not start [TEND_E_SERVICE_FAILED]\nexit 1",
      output: "log 1\nlog 2\n",
    }),
    "! service:nginx  failed: did not start [TEND_E_SERVICE_FAILED]\n    exit 1\n    log 1\n    log 2\n",
  ],
  [
    "unknown says why, and what its check found as things stand",
    res("exec:reload", "unknown", { changes: [{ property: "executed", from: false, to: true }] }),
    "? exec:reload  unknown (depends on a change above; as the box is now: executed)\n",
  ],
  [
    "unknown whose check fails on the box as it is now says so, as a reason, not a failure",
    res("service:ssh", "unknown", {
      error: "service:ssh: systemctl show ssh exited 1: System has not been booted with systemd\nmore",
    }),
    "? service:ssh  unknown (depends on a change above; checking it now fails: service:ssh: systemctl show ssh exited 1: System has not been booted with systemd)\n",
  ],
  [
    "skipped names the failure behind it",
    res("file:/b", "skipped", { error: "service:nginx failed" }),
    "· file:/b  skipped: service:nginx failed\n",
  ],
  [
    "a refresh names its notifiers",
    res("service:nginx", "changed", {
      changes: [{ property: "refresh", from: null, to: ["file:/etc/nginx.conf"] }],
    }),
    "~ service:nginx  refresh\n    refresh: notified by file:/etc/nginx.conf\n",
  ],
];

for (const [name, r, want] of cases) {
  t.test(name, async (t) => {
    t.equal(formatResource(r, plain), want);
  });
}

t.test("colour only when asked: red and green diff lines", async (t) => {
  const r = res("file:/etc/motd", "changed", {
    changes: [{ property: "content", from: "a", to: "b" }],
    diff,
  });
  t.notMatch(formatResource(r, plain), /\x1b\[/);
  const coloured = formatResource(r, { color: true });
  t.match(coloured, "\x1b[31m-old\x1b[0m");
  t.match(coloured, "\x1b[32m+new\x1b[0m");
});

t.test("the summary line counts by outcome; noop says would change", async (t) => {
  const list = [
    res("file:/a", "changed", { drifted: true }),
    res("file:/b", "changed"),
    res("file:/c", "changed"),
    res("service:x", "failed"),
    res("file:/d", "skipped"),
    res("file:/e", "skipped"),
    ...Array.from({ length: 41 }, (_, i) => res(`file:/u${i}`, "unchanged")),
  ];
  t.equal(formatSummary(report(list)), "3 changed (1 drift), 1 failed, 2 skipped, 41 unchanged in 0.21s\n");
  const plan = [res("file:/a", "would-change"), res("exec:b", "unknown"), res("file:/c", "unchanged")];
  t.equal(formatSummary(report(plan, "noop")), "1 would change, 1 unknown, 1 unchanged in 0.21s\n");
  t.equal(formatReport(report([res("file:/c", "unchanged")]), plain), "1 unchanged in 0.21s\n");
});

function check(id: string, status: CheckReport["status"], reason: string, excerpt?: string): CheckReport {
  return { id, type: "http", status, attempts: 1, duration_ms: 3, reason, ...(excerpt ? { excerpt } : {}) };
}

t.test(
  "a check prints a line when it is not ok (every one in a plan), a failure with its excerpt",
  async (t) => {
    const ok = check("http:http://127.0.0.1/healthz", "ok", "status 200");
    t.equal(formatCheck(ok, plain), "", "an apply does not list passing checks");
    t.equal(
      formatCheck(ok, { ...plain, showOk: true }),
      "✓ check http:http://127.0.0.1/healthz  ok: status 200\n",
    );
    t.equal(
      formatCheck(check("tcp:db:5432", "failed", "connection refused (ECONNREFUSED)"), plain),
      "! check tcp:db:5432  failed: connection refused (ECONNREFUSED)\n",
    );
    t.equal(
      formatCheck(check("web", "failed", "status 503, wanted 2xx", "maintenance\nback soon\n"), plain),
      "! check web  failed: status 503, wanted 2xx\n    maintenance\n    back soon\n",
    );
    t.equal(
      formatCheck(check("web", "skipped", "service:nginx failed"), plain),
      "· check web  skipped: service:nginx failed\n",
    );
    t.match(
      formatCheck(check("web", "unknown", "status 503, wanted 2xx; file:/a would change first"), plain),
      /^\? check web {2}unknown: /,
    );
  },
);

t.test("the summary line counts the checks after the resources", async (t) => {
  const withChecks = (checks: CheckReport[], mode: Report["mode"] = "apply"): Report => {
    const r = report([res("file:/a", "changed"), res("file:/b", "unchanged")], mode);
    return { ...r, summary: { ...r.summary, ...summarizeChecks(checks) }, checks };
  };
  const ok = check("a", "ok", "status 200");
  t.equal(formatSummary(withChecks([ok, ok])), "1 changed, 1 unchanged; 2 checks ok in 0.21s\n");
  t.equal(
    formatSummary(withChecks([ok, check("b", "failed", "x"), check("c", "skipped", "y")])),
    "1 changed, 1 unchanged; 3 checks: 1 ok, 1 failed, 1 skipped in 0.21s\n",
  );
  const plan = withChecks([ok, check("b", "failed", "status 500, wanted 2xx")], "noop");
  t.equal(
    formatReport(plan, plain),
    "~ file:/a\n✓ check a  ok: status 200\n! check b  failed: status 500, wanted 2xx\n1 would change, 1 unchanged; 2 checks: 1 ok, 1 failed in 0.21s\n",
    "a whole plan lists every probe",
  );
});

t.test("the daemon's log line counts failed checks when the catalog has checks", async (t) => {
  const plainRun = report([res("file:/a", "unchanged")]);
  t.notMatch(logLine(plainRun, null, 0), /checks_failed/, "no checks, no field");
  const checks = [check("a", "failed", "status 500, wanted 2xx"), check("b", "ok", "status 200")];
  const withChecks = { ...plainRun, summary: { ...plainRun.summary, ...summarizeChecks(checks) }, checks };
  t.match(logLine(withChecks, null, 0), / skipped=0 checks_failed=1 commit=- /);
});

/** The plan as people read it: markers, property changes, diffs, colour only on request, the summary. */
import t from "tap";
import { formatReport, formatResource, formatSummary } from "../../agent/output.js";
import { summarize } from "../../agent/report.js";
import type { Report, ResourceReport } from "../../core/types.js";

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

/**
 * A run's report for people, like a good plan: one line per resource that is not unchanged, the
 * property changes under it (from → to, short values only), the unified diff under a changed file
 * (red/green on a terminal), one line per health check that is not ok (every check in a plan), then
 * one summary line. File content never appears beyond the diff.
 */
import { unknownReason } from "../core/outcome.js";
import type { Change, CheckReport, Json, Report, ResourceReport } from "../core/types.js";

export interface OutputStyle {
  color: boolean;
}

const paint = (code: string) => (on: boolean, text: string) => (on ? `\x1b[${code}m${text}\x1b[0m` : text);
const red = paint("31");
const green = paint("32");
const yellow = paint("33");
const cyan = paint("36");
const dim = paint("2");
const bold = paint("1");

/** Whether a stream should get colour: a terminal, and NO_COLOR not set. */
export function wantsColor(stream: NodeJS.WriteStream): boolean {
  return Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== "dumb";
}

function isAbsent(v: Json): boolean {
  return v === null || v === "absent";
}

/** `+` creates, `-` removes, `~` changes in place. */
function marker(changes: readonly Change[]): "+" | "-" | "~" {
  const ensure = changes.find((c) => c.property === "ensure");
  if (ensure && isAbsent(ensure.from) && !isAbsent(ensure.to)) return "+";
  if (ensure && ensure.to === "absent") return "-";
  return "~";
}

function short(v: Json): string | null {
  const text = typeof v === "string" ? v : JSON.stringify(v);
  return text.length <= 60 && !text.includes("\n") ? text : null;
}

function indent(text: string, by = "    "): string {
  return text
    .split("\n")
    .map((l) => (l ? by + l : l))
    .join("\n");
}

function colorDiff(diff: string, on: boolean): string {
  return diff
    .replace(/\n$/, "")
    .split("\n")
    .filter((l) => !l.startsWith("Index: ") && !/^=+$/.test(l)) // headers that repeat the id
    .map((l) => {
      if (l.startsWith("+++") || l.startsWith("---")) return bold(on, l);
      if (l.startsWith("+")) return green(on, l);
      if (l.startsWith("-")) return red(on, l);
      if (l.startsWith("@@")) return cyan(on, l);
      return l;
    })
    .join("\n");
}

/** The lines for one resource outcome, or "" for an unchanged one. */
export function formatResource(r: ResourceReport, style: OutputStyle): string {
  const on = style.color;
  const props = r.changes.map((c) => c.property).join(", ");
  const lines: string[] = [];
  const m = marker(r.changes);
  switch (r.status) {
    case "unchanged":
      return "";
    case "changed":
    case "would-change": {
      const paintM = m === "+" ? green : m === "-" ? red : yellow;
      const drift = r.drifted ? dim(on, "  (drift)") : "";
      lines.push(`${paintM(on, m)} ${r.id}${m === "~" && props ? `  ${props}` : ""}${drift}`);
      break;
    }
    case "unknown": {
      lines.push(`${cyan(on, "?")} ${r.id}  unknown (${unknownReason(r)})`);
      break;
    }
    case "failed": {
      const [first, ...rest] = (r.error ?? "unknown error").split("\n");
      lines.push(`${red(on, "!")} ${r.id}  ${red(on, "failed")}: ${first}`);
      if (rest.length > 0) lines.push(indent(rest.join("\n")));
      break;
    }
    case "skipped":
      lines.push(`${dim(on, "·")} ${r.id}  skipped: ${r.error ?? "a dependency did not converge"}`);
      break;
  }
  if (r.status !== "skipped") {
    // A create or a removal is the whole story; property by property is for changes in place.
    for (const c of m === "~" && r.status !== "unknown"
      ? r.changes
      : r.changes.filter((x) => x.property === "refresh")) {
      if (c.property === "content" && r.diff) continue;
      if (c.property === "refresh") {
        lines.push(`    refresh: notified by ${Array.isArray(c.to) ? c.to.join(", ") : String(c.to)}`);
        continue;
      }
      const from = short(c.from);
      const to = short(c.to);
      if (from !== null && to !== null) lines.push(`    ${c.property}: ${from} → ${to}`);
    }
    if (r.diff) lines.push(indent(colorDiff(r.diff, on)));
  }
  if (r.status === "failed" && r.output)
    lines.push(indent(dim(on, r.output.replace(/\n$/, "").split("\n").slice(-10).join("\n"))));
  return `${lines.join("\n")}\n`;
}

/**
 * The line for one health check: failed, skipped and unknown ones always (a failure with the start
 * of the body or the end of the output under it), ok ones only when `showOk` (a plan shows what its
 * probes found); "" otherwise.
 */
export function formatCheck(r: CheckReport, style: OutputStyle & { showOk?: boolean }): string {
  const on = style.color;
  const id = `check ${r.id}`;
  switch (r.status) {
    case "ok":
      return style.showOk ? `${green(on, "✓")} ${id}  ok: ${r.reason}\n` : "";
    case "unknown":
      return `${cyan(on, "?")} ${id}  unknown: ${r.reason}\n`;
    case "skipped":
      return `${dim(on, "·")} ${id}  skipped: ${r.reason}\n`;
    case "failed": {
      const line = `${red(on, "!")} ${id}  ${red(on, "failed")}: ${r.reason}\n`;
      return r.excerpt ? `${line}${indent(dim(on, r.excerpt.replace(/\n$/, "")))}\n` : line;
    }
  }
}

/** `; 3 checks ok`, `; 3 checks: 2 ok, 1 failed`, or "" for a run without checks. */
function checksPart(report: Report): string {
  const list = report.checks;
  if (!list?.length) return "";
  const n = { ok: 0, failed: 0, skipped: 0, unknown: 0 };
  for (const c of list) n[c.status]++;
  const label = `${list.length} check${list.length === 1 ? "" : "s"}`;
  if (n.ok === list.length) return `; ${label} ok`;
  const parts = (["ok", "failed", "skipped", "unknown"] as const)
    .filter((k) => n[k] > 0)
    .map((k) => `${n[k]} ${k}`);
  return `; ${label}: ${parts.join(", ")}`;
}

/** `3 changed (1 drift), 1 failed, 2 skipped, 41 unchanged; 2 checks ok in 0.21s`; `would change` in noop. */
export function formatSummary(report: Report): string {
  const s = report.summary;
  const unknown = s.unknown ?? report.resources.filter((r) => r.status === "unknown").length;
  const parts: string[] = [];
  if (s.changed > 0) {
    const verb = report.mode === "noop" ? "would change" : "changed";
    parts.push(`${s.changed} ${verb}${s.drifted > 0 ? ` (${s.drifted} drift)` : ""}`);
  }
  if (unknown > 0) parts.push(`${unknown} unknown`);
  if (s.failed > 0) parts.push(`${s.failed} failed`);
  if (s.skipped > 0) parts.push(`${s.skipped} skipped`);
  parts.push(`${s.unchanged} unchanged`);
  const line = `${parts.join(", ")}${checksPart(report)} in ${(report.duration_ms / 1000).toFixed(2)}s`;
  return report.error ? `tend: ${report.error}\n${line}\n` : `${line}\n`;
}

/** The whole report, for a caller that did not stream the resource and check lines. */
export function formatReport(report: Report, style: OutputStyle): string {
  const checkStyle = { ...style, showOk: report.mode === "noop" };
  return (
    report.resources.map((r) => formatResource(r, style)).join("") +
    (report.checks ?? []).map((c) => formatCheck(c, checkStyle)).join("") +
    formatSummary(report)
  );
}

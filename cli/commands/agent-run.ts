/** `tend agent run`: one pull run under the run lock, printed as a plan, as JSON or as one log line. */
import { TendError } from "../../core/errors.js";
import type { Report } from "../../core/types.js";
import { RunStop } from "../run-stop.js";
import type { Values } from "./agent-options.js";

export async function runCommand(values: Values, configFile: string): Promise<number> {
  const [{ loadConfig }, { agentRun, agentRunIfChanged, CatalogRefusedError }, output, { exitCode, EXIT }] =
    await Promise.all([
      import("../../agent/config.js"),
      import("../../agent/run.js"),
      import("../../agent/output.js"),
      import("../../agent/report.js"),
    ]);
  const config = await loadConfig(configFile);
  if (values["state-dir"]) config.stateDir = values["state-dir"];
  if (values.environment !== undefined) {
    if (!/^(?!.*\.\.)[A-Za-z0-9_-][A-Za-z0-9._/-]{0,199}$/.test(values.environment)) {
      throw new TendError(
        "TEND_E_USAGE",
        `--environment "${values.environment}" is not a branch name; use letters, digits, '.', '_', '-' and '/' (e.g. staging, feature/x).`,
      );
    }
    config.environment = values.environment;
  }
  const noop = Boolean(values.noop);
  const trigger = triggerOf(values);
  let only = values.resource;
  if (trigger === "watch" && only?.includes("-")) {
    // Started by the daemon at a burst's first event (agent/watch/index.ts): load what a run loads
    // while the burst goes on, then the ids, one a line, when standard input closes. None: the
    // burst came to nothing, and neither the lock nor a report is taken.
    await Promise.all([import("../../agent/engine/index.js"), import("../../agent/resources/index.js")]);
    only = [...new Set([...only.filter((id) => id !== "-"), ...(await stdinLines())])];
    if (only.length === 0) return EXIT.ok;
  }
  let lock: { release(): Promise<void> } | null = null;
  if (!noop) {
    const [{ ensureStateDir }, { acquireLock }] = await Promise.all([
      import("../../agent/client/identity.js"),
      import("../../agent/lock.js"),
    ]);
    await ensureStateDir(config.stateDir);
    lock = await acquireLock(config.stateDir, { waitMs: Math.round(config.lockWaitS * 1000) });
  }
  const stop = new RunStop();
  const timer = setTimeout(() => stop.abort(), config.runTimeoutS * 1000);
  timer.unref();
  // A daemon that stops while its scoped run goes on closes the pipe: the run must not die of it.
  if (values["log-line"]) process.stdout.on("error", () => {});
  const style = { color: output.wantsColor(process.stdout) };
  const quiet = Boolean(values.json) || Boolean(values["log-line"]);
  let result: Awaited<ReturnType<typeof agentRunIfChanged>>;
  try {
    result = await (values["if-changed"] ? agentRunIfChanged : agentRun)(config, {
      noop,
      trigger,
      only,
      signal: stop.signal,
      log: (m) => process.stderr.write(`${m}\n`),
      onResource: quiet
        ? undefined
        : (r) => {
            const text = output.formatResource(r, style);
            if (text) process.stdout.write(text);
          },
      onCheck: quiet
        ? undefined
        : (c) => {
            const text = output.formatCheck(c, { ...style, showOk: noop });
            if (text) process.stdout.write(text);
          },
    });
  } catch (err) {
    // A refused catalog: its failed report went to the server (or the spool); the --json and
    // --log-line outputs still show it, then the error ends the run (exit 1: nothing applied).
    if (err instanceof CatalogRefusedError) {
      if (values.json) process.stdout.write(`${JSON.stringify(err.report, null, 2)}\n`);
      else if (values["log-line"]) process.stdout.write(logLine(err.report, null, err.flush.left));
    }
    throw err;
  } finally {
    clearTimeout(timer);
    stop.release();
    await lock?.release();
  }
  if (!result) {
    // --if-changed and the server answered 304: nothing to converge, nothing to report.
    if (values.json) process.stdout.write("null\n");
    else process.stdout.write("run skipped: the catalog is unchanged (the server answered 304)\n");
    return EXIT.ok;
  }
  const { report, notice, flush } = result;
  if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else if (values["log-line"]) process.stdout.write(logLine(report, notice, flush.left));
  else {
    if (report.catalog_source === "cache") {
      process.stdout.write(`catalog: cached (${report.catalog_age_s}s old; the server was unreachable)\n`);
    }
    process.stdout.write(output.formatSummary(report));
  }
  return report.status === "stale" ? EXIT.couldNotStart : exitCode(report);
}

/** Standard input's non-empty lines, once it closes. */
async function stdinLines(): Promise<string[]> {
  let text = "";
  process.stdin.setEncoding("utf8");
  for await (const chunk of process.stdin) text += chunk;
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

const TRIGGERS = ["schedule", "manual", "watch", "push"] as const;

/** What started this run: --trigger (the daemon says schedule or watch), else a person: manual. */
function triggerOf(values: Values): Report["trigger"] {
  const t = values.trigger ?? "manual";
  if (!(TRIGGERS as readonly string[]).includes(t))
    throw new TendError("TEND_E_USAGE", `--trigger takes ${TRIGGERS.join(", ")}, not "${t}"`);
  if (t === "watch" && !values.resource?.length)
    throw new TendError("TEND_E_USAGE", "--trigger watch needs the resources that changed: --resource ID...");
  return t as Report["trigger"];
}

/** The one line a daemon run leaves in the journal. */
export function logLine(report: Report, notice: string | null, spoolLeft: number): string {
  const s = report.summary;
  const parts = [
    `run ${report.id}`,
    `status=${report.status}`,
    `changed=${s.changed}`,
    `drifted=${s.drifted}`,
    `failed=${s.failed}`,
    `skipped=${s.skipped}`,
    ...(s.checks_total === undefined ? [] : [`checks_failed=${s.checks_failed ?? 0}`]),
    `commit=${report.commit?.slice(0, 12) ?? "-"}`,
    `catalog=${report.catalog_source}`,
    `age=${report.catalog_age_s}s`,
    `duration=${(report.duration_ms / 1000).toFixed(2)}s`,
  ];
  if (report.trigger === "watch") parts.push("trigger=watch");
  if (report.contested?.length) parts.push(`contested=${report.contested.length}`);
  if (spoolLeft > 0) parts.push(`spooled=${spoolLeft}`);
  if (notice) parts.push(`note="${notice.replace(/"/g, "'")}"`);
  if (report.error) parts.push(`error="${report.error.split("\n")[0]!.replace(/"/g, "'")}"`);
  return `${parts.join(" ")}\n`;
}

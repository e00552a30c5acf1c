/**
 * `tend server alerts test SINK`: sends a test event to one configured sink at once, outside the
 * queue (the server need not run), prints what the sink answered and records it for the dashboard.
 */
import { TendError } from "../../core/errors.js";
import { AlertService } from "../alerts/service.js";
import { loadSinks, secretFileProblems } from "../alerts/sinks.js";
import { listenUrl } from "../app.js";
import { loadConfig } from "../config.js";
import { openStorage } from "../storage/open.js";
import { help, parse, usage } from "./args.js";

export async function alertsTest(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {}, 1);
  if (values.help) return help();
  const name = positionals[0];
  if (name === undefined) throw new TendError("TEND_E_USAGE", `alerts test needs a sink name\n${usage}`);
  const config = loadConfig(values.config as string | undefined);
  const unsafe = secretFileProblems(config.alerts);
  if (unsafe.length > 0) {
    throw new TendError(
      "TEND_E_CONFIG",
      `refusing to read the sinks' secrets: they must be private (TRUST L2).\n${unsafe.join("\n")}`,
    );
  }
  const sinks = loadSinks(config.alerts);
  const storage = await openStorage(config);
  try {
    const service = new AlertService({
      storage,
      sinks,
      alerts: config.alerts,
      defaultIntervalMs: config.agentIntervalMs,
      keepDays: config.keepDays,
      server: () => config.publicUrl ?? listenUrl(config),
      now: Date.now,
      log: { warn: () => {} },
    });
    const outcomes = await service.sendTest(name);
    const sink = sinks.find((s) => s.name === name);
    const labels = sink?.type === "pagerduty" ? ["trigger", "resolve"] : ["event"];
    for (const [i, o] of outcomes.entries()) {
      const what = `test ${labels[i] ?? "event"} to ${name} (${sink?.where})`;
      if (o.result === "sent") process.stdout.write(`sent ${what}: HTTP ${o.status}\n`);
      else throw new TendError("TEND_E_ALERT_SINK", `could not send the ${what}: ${o.error}`);
    }
    return 0;
  } finally {
    await storage.close();
  }
}

/**
 * `tend agent daemon`: runs `tend agent run` on the configured cron schedule, each run delayed by
 * this node's splay (a hash of its name over `splay` seconds, so a fleet spreads evenly and a node
 * always runs at the same offset). One run at a time; a tick during a run is skipped.
 *
 * Each run is a child process. Under systemd it is started in its own transient scope
 * (`systemd-run --scope`), outside tend-agent.service's cgroup: a recipe that restarts or upgrades
 * tend-agent.service stops this daemon but not the run, which finishes and spools its report
 * (TRUST G7). Without systemd the child is an ordinary child: SIGTERM is passed on to it, it stops
 * after its current resource, and the daemon exits after it. SIGHUP reloads the configuration.
 * Between runs, reports left in the spool are retried with jittered exponential backoff, each
 * attempt a child process too (`tend agent flush`).
 *
 * With `push` (the default) the daemon also holds the push channel (agent/push/channel.ts): a
 * signal starts a run at once (or within the spread the server asks for), `run` and `noop` as
 * `tend agent run [--noop]`, a new commit as `tend agent run --if-changed` (one 304 when this
 * node's catalog did not change). A signal during a run queues one more run, never more: the
 * queued one is the strongest asked for (run over commit over noop).
 *
 * The daemon spends nearly all its life waiting, so it loads only what waiting needs: its
 * configuration, node-cron and signal handling. Everything a run or a flush needs (the HTTP client,
 * the verifier, the engine) is loaded by the child processes; nothing here may import it, even
 * lazily (docs/agent.md, "Idle memory"; test/agent/agent-daemon.test.ts checks the module list).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import cron, { type ScheduledTask } from "node-cron";
import { TendError } from "../core/errors.js";
import { type AgentConfig, loadConfig } from "./config.js";
import { useLocalClock } from "./cron-clock.js";
import { childEnv, mergeRuns, type RunKind, runCommand, selfCommand } from "./daemon-children.js";
import { PushChannel, type Signal } from "./push/channel.js";
import { errorText } from "./report.js";
import { backoffMs, spooled } from "./store/report-spool-names.js";
import type { Watcher } from "./watch/index.js";

/** This node's fixed delay after each tick, in ms: sha256(node) spread over [0, splay] seconds. */
export function splayMs(node: string, splayS: number): number {
  if (splayS <= 0) return 0;
  const n = createHash("sha256").update(node).digest().readUInt32BE(0);
  return Math.floor((n / 2 ** 32) * splayS * 1000);
}

export {
  childEnv,
  DAEMON_ENV,
  DAEMON_NODE_FLAGS,
  mergeRuns,
  type RunKind,
  runCommand,
  selfCommand,
} from "./daemon-children.js";

const log = (line: string) => process.stdout.write(`${line}\n`);

export async function daemon(configFile: string): Promise<number> {
  // node-cron reads the wall clock through Intl, whose ICU data would be most of what this process
  // holds above a bare Node.js; `Date` answers the same (agent/cron-clock.ts).
  useLocalClock();
  let config = await checked(configFile);
  let task: ScheduledTask | null = null;
  let child: ChildProcess | null = null;
  let scoped = false;
  let stopping = false;
  let pendingTimer: NodeJS.Timeout | null = null;
  let flushTimer: NodeJS.Timeout | null = null;
  let flushAttempt = 0;
  let done: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => {
    done = resolve;
  });

  let flusher: ChildProcess | null = null;
  let runAfterFlush = false;
  // Watch mode (agent/watch/): asks for watch runs through startRun(ids); a tick during one waits for it.
  let watcher: Watcher | null = null;
  let watchRun = false;
  // The watch run started at a burst's first event, until it is handed the ids (prepareWatchRun).
  let prepared = false;
  let tickAfterRun = false;
  // The push channel (agent/push/): a signalled run, or the one run queued behind the current one.
  let channel: PushChannel | null = null;
  let next: RunKind | null = null;
  let signalTimer: NodeJS.Timeout | null = null;
  let signalKind: RunKind | null = null;

  /** After a run or a flush: the queued signalled run (a waiting tick joins it), else the tick. */
  const startWaiting = (tickWaiting: boolean): boolean => {
    if (next) {
      const kind = tickWaiting ? mergeRuns(next, "run") : next;
      next = null;
      log(`daemon: starting the queued run${kind === "run" ? "" : ` (${kind})`}`);
      return startRun({ kind, push: true });
    }
    return tickWaiting && startRun();
  };

  const scheduleFlush = () => {
    if (flushTimer || stopping) return;
    flushAttempt++;
    flushTimer = setTimeout(() => {
      flushTimer = null;
      if (child || flusher || stopping) return;
      // `tend agent flush` sends what it can and exits 0 when the spool is empty, 3 when some is left.
      const argv = [...selfCommand(), "agent", "flush", "--config", configFile];
      const f = spawn(argv[0]!, argv.slice(1), {
        stdio: ["ignore", "pipe", "pipe"],
        env: childEnv(),
      });
      flusher = f;
      f.stdout?.on("data", (chunk: Buffer) => process.stdout.write(chunk));
      f.stderr?.on("data", (chunk: Buffer) => process.stdout.write(`spool: ${chunk}`));
      f.once("error", (err) => log(`spool: the flush could not start: ${err.message}`));
      f.once("close", (code) => {
        flusher = null;
        if (stopping) return;
        if (code === 0) flushAttempt = 0;
        else scheduleFlush();
        const tick = runAfterFlush;
        runAfterFlush = false;
        startWaiting(tick);
      });
    }, backoffMs(flushAttempt));
    flushTimer.unref();
  };

  const startRun = (o: { ids?: string[] | "stdin"; kind?: RunKind; push?: boolean } = {}): boolean => {
    if (stopping) return false;
    if (Array.isArray(o.ids) && prepared && child) {
      // The watch run started at the burst's first event has started up meanwhile: the ids, and go.
      prepared = false;
      child.stdin?.end(`${o.ids.join("\n")}\n`);
      return true;
    }
    const kind = o.kind ?? "run";
    if (child && o.push) {
      // A signal during a run: one more run after it, whatever else is asked meanwhile.
      log(`push: a run is in progress; ${next ? "the queued run stays the one" : "one more run queued"}`);
      next = mergeRuns(next, kind);
      return false;
    }
    if (child) {
      if (!o.ids && watchRun) tickAfterRun = true;
      else if (!o.ids) log("tick skipped: the previous run is still going");
      return false;
    }
    if (flusher) {
      // A flush is short (the spool is bounded); the run starts when it ends, so reports go once.
      if (o.push) next = mergeRuns(next, kind);
      else if (!o.ids) runAfterFlush = true;
      return false;
    }
    const argv = runCommand(configFile, process.env, o);
    watchRun = Boolean(o.ids);
    // A plan changes nothing, so what the watcher sees during it is not the run's own doing.
    if (!o.ids && kind !== "noop") watcher?.runStarted("all");
    scoped = argv[0]?.endsWith("systemd-run") ?? false;
    // The run's line is relayed through the daemon so the journal files it under tend-agent.service
    // (a scoped run's own output is filed under its scope).
    prepared = o.ids === "stdin";
    child = spawn(argv[0]!, argv.slice(1), {
      stdio: [prepared ? "pipe" : "ignore", "pipe", "inherit"],
      env: childEnv(),
    });
    // A prepared run that died before it was handed its ids: the write fails, the exit says why.
    child.stdin?.on("error", () => {});
    child.stdout?.on("data", (chunk: Buffer) => process.stdout.write(chunk));
    child.once("error", (err) => log(`run could not start: ${err.message}`));
    child.once("exit", async (code, signal) => {
      child = null;
      prepared = false;
      watcher?.runEnded();
      if (code === 1 || signal) log(`run ended with ${signal ?? `exit ${code}`}`);
      if (stopping) return done(0);
      const tick = tickAfterRun;
      tickAfterRun = false;
      if (!startWaiting(tick) && (await spooled(config.stateDir)) > 0) scheduleFlush();
    });
    return true;
  };

  /** A burst of watch events has begun: its run starts up now, and waits for the ids (agent/watch/index.ts). */
  const prepareWatchRun = () => {
    if (!child && !flusher) startRun({ ids: "stdin" });
  };
  /** The burst came to nothing: the prepared run, given no ids, exits without a lock or a report. */
  const dismissWatchRun = () => {
    if (!prepared) return;
    prepared = false;
    child?.stdin?.end();
  };

  const watchIf = async () => {
    if (config.watch === Boolean(watcher)) return;
    watcher?.close();
    watcher = null;
    dismissWatchRun();
    if (!config.watch) return log("watch: off");
    const { Watcher } = await import("./watch/index.js");
    watcher = await Watcher.start({
      stateDir: config.stateDir,
      log,
      repair: (ids) => startRun({ ids }),
      prepare: prepareWatchRun,
      dismiss: dismissWatchRun,
    });
  };

  const onSignal = (signal: Signal) => {
    if (stopping) return;
    const commit = signal.commit ? ` for commit ${signal.commit.slice(0, 12)}` : "";
    if (signalTimer) {
      log(`push: ${signal.kind} signal${commit}; joins the run about to start`);
      signalKind = mergeRuns(signalKind, signal.kind);
      return;
    }
    signalKind = signal.kind;
    // The server spreads a fleet-wide signal over spread_ms, so the fleet does not pull at once.
    const wait = Math.floor(Math.random() * signal.spreadMs);
    log(
      `push: ${signal.kind} signal${commit}${wait > 0 ? `; starting in ${(wait / 1000).toFixed(1)}s` : ""}`,
    );
    signalTimer = setTimeout(() => {
      signalTimer = null;
      const kind = signalKind ?? signal.kind;
      signalKind = null;
      startRun({ kind, push: true });
    }, wait);
  };

  /** The push channel as the configuration says: kept across a reload unless its server changed. */
  const connect = (previous: AgentConfig | null) => {
    const same = previous && previous.server === config.server && previous.stateDir === config.stateDir;
    if (channel && same && config.push) return;
    channel?.stop();
    channel = config.push
      ? new PushChannel({ server: config.server, stateDir: config.stateDir, onSignal, log })
      : null;
    channel?.start();
  };

  const arm = () => {
    task?.stop();
    const delay = splayMs(config.node, config.splay);
    task = cron.schedule(config.schedule, () => {
      if (pendingTimer || stopping) return;
      pendingTimer = setTimeout(() => {
        pendingTimer = null;
        startRun();
      }, delay);
    });
    log(
      `daemon: node ${config.node}, schedule "${config.schedule}", splay offset ${(delay / 1000).toFixed(1)}s, server ${config.server}, push ${config.push ? "on" : "off"}`,
    );
  };

  process.on("SIGHUP", async () => {
    try {
      const previous = config;
      config = await checked(configFile);
      arm();
      connect(previous);
      await watchIf();
      log("daemon: configuration reloaded");
    } catch (err) {
      log(`daemon: configuration not reloaded, keeping the old one: ${errorText(err)}`);
    }
  });
  const onStop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    task?.destroy();
    channel?.stop();
    if (signalTimer) clearTimeout(signalTimer);
    watcher?.close();
    dismissWatchRun();
    if (pendingTimer) clearTimeout(pendingTimer);
    if (flushTimer) clearTimeout(flushTimer);
    // A flush stopped half-way loses nothing: a report leaves the spool only once accepted.
    flusher?.kill("SIGTERM");
    if (child && !scoped) {
      log(`daemon: ${signal}: the run stops after its current resource`);
      child.kill("SIGTERM");
      return;
    }
    if (child) {
      log(`daemon: ${signal}: the run in progress continues in its own scope`);
      child.stdout?.destroy();
      child.unref();
    }
    done(0);
    // Nothing may keep the daemon up past its stop (systemd would wait, then SIGKILL).
    setTimeout(() => process.exit(0), 500).unref();
  };
  process.on("SIGTERM", onStop);
  process.on("SIGINT", onStop);
  arm();
  connect(null);
  await watchIf();
  return finished;
}

async function checked(configFile: string): Promise<AgentConfig> {
  const config = await loadConfig(configFile);
  if (!cron.validate(config.schedule)) {
    throw new TendError(
      "TEND_E_CONFIG",
      `${configFile}: schedule "${config.schedule}" is not a cron expression`,
    );
  }
  return config;
}

/**
 * The rollout engine (issue 11): starts a rollout of the live commit (waves from plan.ts, state in
 * the database), moves it on as reports arrive and as a timer finds waves due or timed out
 * (progress.ts), halts it with an alert, resumes and aborts it, and says which commit each node is
 * served meanwhile (pins.ts). It holds no state of its own beyond caches: several servers on one
 * PostgreSQL each run one, and the conditional updates of the store make each step happen once.
 */
import type { FastifyBaseLogger } from "fastify";
import type { Report } from "../../core/types.js";
import type { GitGate } from "../git/gate.js";
import { HttpError } from "../http.js";
import type { PushSignals } from "../push/signals.js";
import type { Rollouts } from "../signals.js";
import type { Storage } from "../storage/types.js";
import type { DeployConfig } from "./config.js";
import { reportOutcome } from "./outcome.js";
import { canaryProblem, planWaves, selectNodes } from "./plan.js";
import { Progress } from "./progress.js";
import type { RolloutDetail, RolloutRecord } from "./types.js";

export interface StartOptions {
  commit?: string;
  noop?: boolean;
  startedBy: string;
  nodes?: string;
  canary?: string;
  waves?: number;
  pauseMs?: number;
  timeoutMs?: number;
}

export interface EngineOptions {
  storage: Storage;
  push: PushSignals;
  gate: () => GitGate | null;
  deploy: DeployConfig;
  now: () => number;
  log: FastifyBaseLogger;
  /** How often the timer looks for due and timed-out waves (1 s). */
  tickMs?: number;
}

const conflict = (message: string) => new HttpError(409, "TEND_E_ROLLOUT_STATE", message);

export class RolloutEngine implements Rollouts {
  readonly progress: Progress;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly o: EngineOptions) {
    this.progress = new Progress({
      store: o.storage.rollouts,
      alerts: o.storage.alerts,
      signal: (nodes, noop) => this.signal(nodes, noop ? "noop" : "run"),
      now: o.now,
      log: o.log,
    });
  }

  get config(): DeployConfig {
    return this.o.deploy;
  }

  /** A rollout of the live commit (or `commit`, which must be it), canary and waves as asked. */
  async start(s: StartOptions): Promise<{ id: string }> {
    // The database's live commit: another server may have promoted one this server has not loaded.
    const live = (await this.o.storage.liveCommit()) ?? this.o.gate()?.live?.sha ?? null;
    if (!live) throw conflict("The server has no valid recipe commit yet: there is nothing to deploy.");
    const commit = s.commit ?? live;
    if (commit !== live) {
      throw conflict(
        `Only the live commit (${live.slice(0, 12)}) can be deployed: ${commit.slice(0, 12)} is not it. To go back to an older commit, revert it in git; the revert is a new commit to deploy.`,
      );
    }
    const canary = s.canary ?? this.o.deploy.canary;
    const problem = canaryProblem(canary);
    if (problem) throw new HttpError(400, "TEND_E_USAGE", `${problem}.`);
    const glob = s.nodes ?? "*";
    const fleet = await this.o.storage.rollouts.fleet();
    // A rollout deploys the default environment's commit: nodes in another environment follow
    // their own branch (docs/environments.md) and would never report on it.
    const main = this.o.gate()?.defaultBranch;
    const envs = main ? await this.o.storage.nodeEnvironments() : new Map();
    const inDefault = (name: string) => {
      const e = envs.get(name)?.environment;
      return !e || e === main;
    };
    const targets = selectNodes(fleet.map((n) => n.name).filter(inDefault), glob);
    if (targets.length === 0)
      throw conflict(
        `No enrolled node of the default environment matches "${glob}": there is nobody to deploy to.`,
      );
    const noop = s.noop ?? false;
    // A preview asks every node at once and halts nothing; a deploy goes canary first.
    const waves = noop ? [targets] : planWaves(targets, { canary, waves: s.waves ?? this.o.deploy.waves });
    const now = this.o.now();
    const id = await this.o.storage.rollouts.create({
      commit,
      from: noop ? null : await this.previousCommit(commit),
      noop,
      nodes: glob,
      canary: noop ? "0" : canary,
      pauseMs: s.pauseMs ?? this.o.deploy.pauseMs,
      timeoutMs: s.timeoutMs ?? this.o.deploy.timeoutMs,
      startedBy: s.startedBy,
      startedAt: now,
      waves,
      already: new Set(fleet.filter((n) => n.lastCommit === commit).map((n) => n.name)),
    });
    if (!noop) await this.o.storage.rollouts.supersede(id, now);
    this.o.log.info({ rollout: id, commit, nodes: targets.length, waves: waves.length }, "rollout started");
    await this.progress.evaluate(id);
    return { id: String(id) };
  }

  get(id: number): Promise<RolloutDetail | undefined> {
    return this.o.storage.rollouts.get(id);
  }

  list(limit = 50): Promise<RolloutRecord[]> {
    return this.o.storage.rollouts.list(limit);
  }

  /** Halted → running: the failed wave's nodes run again; the rollout goes on once they are healthy. */
  async resume(id: number): Promise<RolloutDetail> {
    const r = await this.must(id);
    const resumed = await this.o.storage.rollouts.resume(id, this.o.now());
    if (!resumed) throw conflict(`Rollout ${id} is ${r.state}; only a halted rollout can be resumed.`);
    await this.progress.resolveAlert(id);
    if (resumed.nodes.length > 0) await this.signal(resumed.nodes, r.noop ? "noop" : "run");
    await this.progress.evaluate(id);
    return this.must(id);
  }

  /**
   * Running or halted → aborted: every node of the rollout is served the previous commit again, and
   * those that had run this one are asked to run now, so they go back at once.
   */
  async abort(id: number, by: string): Promise<RolloutDetail> {
    const r = await this.must(id);
    if (
      !(await this.o.storage.rollouts.setState(
        id,
        ["running", "halted"],
        "aborted",
        this.o.now(),
        `aborted by ${by}`,
      ))
    )
      throw conflict(`Rollout ${id} is ${r.state}; only a running or halted rollout can be aborted.`);
    await this.progress.resolveAlert(id);
    const touched = r.waves
      .flatMap((w) => w.nodes)
      .filter((n) => n.state !== "pending")
      .map((n) => n.node);
    if (!r.noop && touched.length > 0) await this.signal(touched, "run");
    this.o.log.info({ rollout: id, by, back: touched.length }, "rollout aborted");
    return this.must(id);
  }

  /**
   * Report ingest's hook: the report (as vetted: its commit believed only if served to the node)
   * moves its node's rollouts on. Cheap while no rollout exists (the store's recordReport guard).
   */
  async onReport(report: Report): Promise<void> {
    const outcome = reportOutcome(report);
    if (!outcome) return;
    const touched = await this.o.storage.rollouts.recordReport(outcome, this.o.now());
    for (const id of touched) await this.progress.evaluate(id);
  }

  /** The git gate made `sha` live: signal everyone (push), start a rollout (auto), or wait (manual). */
  async onPromote(sha: string): Promise<void> {
    if (this.o.deploy.onCommit === "push") {
      await this.o.push.commitPromoted(sha);
    } else if (this.o.deploy.onCommit === "auto") {
      await this.start({ commit: sha, startedBy: "git:on_commit" }).catch((err) => {
        if (!(err instanceof HttpError) || err.statusCode !== 409) throw err;
        this.o.log.warn({ commit: sha, err: err.message }, "deploy.on_commit: no rollout started");
      });
    }
  }

  /** Runs the timer (main.ts and tests start it; several servers may all run one). */
  startTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      void this.progress
        .tick()
        .catch((err) => this.o.log.warn({ err: (err as Error).message }, "rollout tick failed"));
    }, this.o.tickMs ?? 1_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * What nodes had before `commit`: the commit the newest earlier rollout left them on (done: its
   * commit; otherwise the one it started from), else the newest valid commit seen before it.
   */
  private async previousCommit(commit: string): Promise<string | null> {
    const newest = await this.o.storage.rollouts.newest();
    if (newest && !newest.noop && newest.commit !== commit) {
      return newest.state === "done" ? newest.commit : (newest.from ?? newest.commit);
    }
    if (newest && !newest.noop && newest.commit === commit && newest.from) return newest.from;
    const commits = await this.o.storage.listCommits(200);
    const seen = commits.find((c) => c.sha === commit)?.seen_at ?? Number.POSITIVE_INFINITY;
    return commits.find((c) => c.valid && c.sha !== commit && c.seen_at <= seen)?.sha ?? null;
  }

  private async must(id: number): Promise<RolloutDetail> {
    const r = await this.o.storage.rollouts.get(id);
    if (!r) throw new HttpError(404, "TEND_E_HTTP_NOT_FOUND", `No rollout ${id}.`);
    return r;
  }

  private async signal(nodes: string[], kind: "run" | "noop"): Promise<void> {
    if (nodes.length === 0) return;
    await this.o.push.send(nodes, kind).catch((err) =>
      // The nodes are un-pinned already: their next scheduled run takes the commit, or they time out.
      this.o.log.warn(
        { err: (err as Error).message, nodes: nodes.length },
        "rollout: cannot signal the wave",
      ),
    );
  }
}

/**
 * Moving a rollout on, from what the database says now: its running wave is done when every node
 * in it reported on the commit, and halts the rollout when one failed or did not report within the
 * timeout; the next wave starts once the pause after a done wave is over; after the last one the
 * rollout is done. Called after each report on a node of the rollout, and by the engine's timer
 * for all running rollouts (pauses, timeouts, and what two servers' reports left half-seen). Each
 * step is a conditional update, so when several servers evaluate one rollout, one of them moves it.
 */
import type { FastifyBaseLogger } from "fastify";
import type { AlertStorage } from "../storage/alert-types.js";
import type { RolloutDetail, RolloutStorage } from "./types.js";

export interface ProgressOptions {
  store: RolloutStorage;
  alerts: AlertStorage;
  signal: (nodes: string[], noop: boolean) => Promise<void>;
  now: () => number;
  log: FastifyBaseLogger;
}

/** The alert subject of a rollout: `tend/rollout-7/rollout-halted`. */
export const rolloutSubject = (id: number) => `rollout-${id}`;

export const waveName = (r: RolloutDetail, index: number): string =>
  index === 0 && r.canary !== "0" && !r.noop ? "the canary" : `wave ${index + 1}`;

export class Progress {
  /** Evaluations of one rollout run one after another on this server. */
  private readonly chains = new Map<number, Promise<void>>();

  constructor(private readonly o: ProgressOptions) {}

  /** Every running rollout, once. */
  async tick(): Promise<void> {
    for (const r of await this.o.store.active()) if (r.state === "running") await this.evaluate(r.id);
  }

  evaluate(id: number): Promise<void> {
    const next = (this.chains.get(id) ?? Promise.resolve()).then(() => this.step(id));
    const kept = next.catch(() => undefined);
    this.chains.set(id, kept);
    void kept.then(() => {
      if (this.chains.get(id) === kept) this.chains.delete(id);
    });
    return next;
  }

  private async step(id: number): Promise<void> {
    // Each pass moves at most one wave; a few passes cover a report that finishes a wave and a
    // next wave with no pause.
    for (let pass = 0; pass < 3; pass++) {
      const r = await this.o.store.get(id);
      if (r?.state !== "running") return;
      if (!(await this.advance(r))) return;
    }
  }

  /** One step; true when something moved (evaluate again). */
  private async advance(r: RolloutDetail): Promise<boolean> {
    const now = this.o.now();
    const running = r.waves.find((w) => w.state === "running");
    if (running) {
      const failed = running.nodes.filter((n) => n.state === "failed");
      const waiting = running.nodes.filter((n) => n.state === "running");
      if (failed.length > 0 && !r.noop)
        return this.halt(
          r,
          running.index,
          failed.map((n) => n.node),
        );
      if (waiting.length > 0) {
        if ((running.startedAt ?? now) + r.timeoutMs > now) return false;
        const error = `no report on ${r.commit.slice(0, 12)} within ${Math.round(r.timeoutMs / 1000)} s of the signal`;
        const late = await this.o.store.timeOut(r.id, running.index, error);
        if (r.noop) return this.o.store.finishWave(r.id, running.index, now, now);
        return this.halt(r, running.index, [...failed.map((n) => n.node), ...late]);
      }
      return this.o.store.finishWave(r.id, running.index, now, now + r.pauseMs);
    }
    const next = r.waves.find((w) => w.state === "pending");
    if (!next) {
      const done = await this.o.store.setState(r.id, ["running"], "done", now, null);
      if (done) this.o.log.info({ rollout: r.id, commit: r.commit }, "rollout done");
      return false;
    }
    if ((next.notBefore ?? Number.POSITIVE_INFINITY) > now) return false;
    const nodes = await this.o.store.startWave(r.id, next.index, now);
    if (!nodes) return false;
    this.o.log.info({ rollout: r.id, wave: next.index, nodes: nodes.length }, "rollout wave signalled");
    await this.o.signal(nodes, r.noop);
    return true;
  }

  private async halt(r: RolloutDetail, index: number, failing: string[]): Promise<boolean> {
    const wave = waveName(r, index);
    const shown =
      failing.slice(0, 5).join(", ") + (failing.length > 5 ? ` and ${failing.length - 5} more` : "");
    const reason = `${wave} failed on ${shown}`;
    if (!(await this.o.store.haltWave(r.id, index, this.o.now(), reason))) return false;
    this.o.log.warn({ rollout: r.id, wave: index, failing }, "rollout halted");
    const fresh = await this.o.store.get(r.id);
    const nodes = fresh?.waves[index]?.nodes.filter((n) => n.state === "failed") ?? [];
    const firstReport = nodes.find((n) => n.reportId)?.reportId;
    await this.o.alerts
      .raise(
        "rollout-halted",
        rolloutSubject(r.id),
        {
          node: null,
          summary: `rollout ${r.id} of ${r.commit.slice(0, 12)} halted: ${reason}`,
          details: {
            rollout_id: r.id,
            commit: r.commit,
            wave: index,
            failing_nodes: nodes
              .slice(0, 50)
              .map((n) => ({ node: n.node, report_id: n.reportId, error: n.error })),
            failing_count: failing.length,
            ...(firstReport ? { report_id: firstReport } : {}),
          },
        },
        this.o.now(),
      )
      .catch((err) =>
        this.o.log.warn({ err: (err as Error).message }, "could not record the rollout-halted alert"),
      );
    return false;
  }

  /** Resumed or aborted: the halted condition resolves. */
  async resolveAlert(id: number): Promise<void> {
    await this.o.alerts
      .clear("rollout-halted", rolloutSubject(id), this.o.now())
      .catch((err) =>
        this.o.log.warn({ err: (err as Error).message }, "could not resolve the rollout-halted alert"),
      );
  }
}

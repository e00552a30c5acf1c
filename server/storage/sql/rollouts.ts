/**
 * Rollouts in SQL, the same on SQLite and PostgreSQL (server/rollouts/types.ts says the states).
 * Every transition is one conditional UPDATE … RETURNING (state = the expected one), so when several
 * servers on one PostgreSQL see the same report or tick at once, exactly one of them moves a wave.
 */
import type {
  NewRollout,
  NodePin,
  NodeState,
  ReportOutcome,
  RolloutDetail,
  RolloutNodeRecord,
  RolloutRecord,
  RolloutState,
  RolloutStorage,
  WaveRecord,
} from "../../rollouts/types.js";
import type { Driver, Row } from "../driver.js";

export function rolloutStatements(kind: Driver["kind"]): string[] {
  const id = kind === "sqlite" ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY";
  return [
    `CREATE TABLE IF NOT EXISTS rollouts (id ${id}, commit_sha TEXT NOT NULL, from_sha TEXT,
      state TEXT NOT NULL, noop INTEGER NOT NULL, nodes TEXT NOT NULL, canary TEXT NOT NULL,
      pause_ms BIGINT NOT NULL, timeout_ms BIGINT NOT NULL, started_by TEXT NOT NULL,
      started_at BIGINT NOT NULL, ended_at BIGINT, reason TEXT)`,
    `CREATE TABLE IF NOT EXISTS rollout_waves (rollout_id BIGINT NOT NULL, idx INTEGER NOT NULL,
      state TEXT NOT NULL, started_at BIGINT, ended_at BIGINT, not_before BIGINT,
      PRIMARY KEY (rollout_id, idx))`,
    `CREATE TABLE IF NOT EXISTS rollout_nodes (rollout_id BIGINT NOT NULL, node TEXT NOT NULL,
      wave INTEGER NOT NULL, state TEXT NOT NULL, already INTEGER NOT NULL, report_id TEXT,
      reported_at BIGINT, changed INTEGER NOT NULL DEFAULT 0, error TEXT,
      PRIMARY KEY (rollout_id, node))`,
    "CREATE INDEX IF NOT EXISTS rollout_nodes_node ON rollout_nodes (node, rollout_id)",
  ];
}

const str = (v: unknown) => (v === null || v === undefined ? null : String(v));
const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

function rollout(r: Row): RolloutRecord {
  return {
    id: Number(r.id),
    commit: String(r.commit_sha),
    from: str(r.from_sha),
    state: String(r.state) as RolloutState,
    noop: Number(r.noop) === 1,
    nodes: String(r.nodes),
    canary: String(r.canary),
    pauseMs: Number(r.pause_ms),
    timeoutMs: Number(r.timeout_ms),
    startedBy: String(r.started_by),
    startedAt: Number(r.started_at),
    endedAt: num(r.ended_at),
    reason: str(r.reason),
  };
}

function wave(r: Row): WaveRecord {
  return {
    index: Number(r.idx),
    state: String(r.state) as WaveRecord["state"],
    startedAt: num(r.started_at),
    endedAt: num(r.ended_at),
    notBefore: num(r.not_before),
  };
}

function node(r: Row): RolloutNodeRecord {
  return {
    node: String(r.node),
    wave: Number(r.wave),
    state: String(r.state) as NodeState,
    already: Number(r.already) === 1,
    reportId: str(r.report_id),
    reportedAt: num(r.reported_at),
    changed: Number(r.changed),
    error: str(r.error),
  };
}

export class SqlRolloutStorage implements RolloutStorage {
  /** Set once a non-noop rollout is known to exist: it stays true (rollouts are kept). */
  private seen = false;
  private checkedAt = Number.NEGATIVE_INFINITY;
  /** Whether a rollout of any kind (previews too) exists; null until read. It stays true once true. */
  private anyRollout: boolean | null = null;

  constructor(private readonly db: Driver) {}

  create(r: NewRollout): Promise<number> {
    return this.db.tx(async (q) => {
      const [row] = await q(
        `INSERT INTO rollouts (commit_sha, from_sha, state, noop, nodes, canary, pause_ms, timeout_ms,
           started_by, started_at) VALUES ($1, $2, 'running', $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
        [
          r.commit,
          r.from,
          r.noop ? 1 : 0,
          r.nodes,
          r.canary,
          r.pauseMs,
          r.timeoutMs,
          r.startedBy,
          r.startedAt,
        ],
      );
      const id = Number(row?.id);
      if (!r.noop) this.seen = true;
      this.anyRollout = true;
      for (const [i, names] of r.waves.entries()) {
        await q(
          "INSERT INTO rollout_waves (rollout_id, idx, state, not_before) VALUES ($1, $2, 'pending', $3)",
          [id, i, i === 0 ? r.startedAt : null],
        );
        for (const name of names) {
          await q(
            "INSERT INTO rollout_nodes (rollout_id, node, wave, state, already) VALUES ($1, $2, $3, 'pending', $4)",
            [id, name, i, r.already.has(name) ? 1 : 0],
          );
        }
      }
      return id;
    });
  }

  async get(id: number): Promise<RolloutDetail | undefined> {
    const [r] = await this.db.query("SELECT * FROM rollouts WHERE id = $1", [id]);
    if (!r) return undefined;
    const waves = await this.db.query("SELECT * FROM rollout_waves WHERE rollout_id = $1 ORDER BY idx", [id]);
    const nodes = (
      await this.db.query("SELECT * FROM rollout_nodes WHERE rollout_id = $1 ORDER BY wave, node", [id])
    ).map(node);
    return {
      ...rollout(r),
      waves: waves.map((w) => {
        const rec = wave(w);
        return { ...rec, nodes: nodes.filter((n) => n.wave === rec.index) };
      }),
    };
  }

  async fleet(): Promise<{ name: string; lastCommit: string | null }[]> {
    const rows = await this.db.query(
      "SELECT name, last_commit FROM nodes WHERE credential_hash NOT LIKE 'revoked:%' ORDER BY name",
    );
    return rows.map((r) => ({ name: String(r.name), lastCommit: str(r.last_commit) }));
  }

  async list(limit: number): Promise<RolloutRecord[]> {
    return (await this.db.query("SELECT * FROM rollouts ORDER BY id DESC LIMIT $1", [limit])).map(rollout);
  }

  async active(): Promise<RolloutRecord[]> {
    const rows = await this.db.query(
      "SELECT * FROM rollouts WHERE state IN ('running', 'halted') ORDER BY id",
    );
    return rows.map(rollout);
  }

  async newest(): Promise<RolloutRecord | undefined> {
    const [r] = await this.db.query("SELECT * FROM rollouts ORDER BY id DESC LIMIT 1");
    return r ? rollout(r) : undefined;
  }

  /** True once this server started one or saw one; before that, the table is read at most once a second. */
  async any(): Promise<boolean> {
    if (this.seen) return true;
    const now = Date.now();
    if (now - this.checkedAt < 1_000) return false;
    this.checkedAt = now;
    const [r] = await this.db.query("SELECT id FROM rollouts WHERE noop = 0 LIMIT 1");
    this.seen = r !== undefined;
    return this.seen;
  }

  async pin(name: string): Promise<NodePin | undefined> {
    const [r] = await this.db.query(
      `SELECT r.id, r.commit_sha, r.from_sha, r.state, n.state AS node_state, n.already
       FROM rollout_nodes n JOIN rollouts r ON r.id = n.rollout_id
       WHERE n.node = $1 AND r.noop = 0 ORDER BY n.rollout_id DESC LIMIT 1`,
      [name],
    );
    if (!r) return undefined;
    return {
      id: Number(r.id),
      commit: String(r.commit_sha),
      from: str(r.from_sha),
      state: String(r.state) as RolloutState,
      nodeState: String(r.node_state) as NodeState,
      already: Number(r.already) === 1,
    };
  }

  async previewFor(name: string): Promise<string | null> {
    const [r] = await this.db.query(
      `SELECT r.commit_sha FROM rollout_nodes n JOIN rollouts r ON r.id = n.rollout_id
       WHERE n.node = $1 AND n.state = 'running' AND r.noop = 1 AND r.state = 'running'
       ORDER BY n.rollout_id DESC LIMIT 1`,
      [name],
    );
    return str(r?.commit_sha);
  }

  async lastCommit(name: string): Promise<string | null> {
    const [r] = await this.db.query("SELECT last_commit FROM nodes WHERE name = $1", [name]);
    return str(r?.last_commit);
  }

  /**
   * Whether a report could touch a rollout at all: every report asks, and most fleets have never
   * had one. Rollouts are kept, so once one exists the answer is yes for good. Before that:
   *  - SQLite: one process owns the file (as tryLock assumes) and only its create() makes rollouts,
   *    so the table is read once and the flag answers from then on, with no query;
   *  - PostgreSQL: another server may have created the first one a moment ago (and a node of its
   *    canary may report here at once), so a "no" is never cached (a TTL would drop that report and
   *    time the canary out): the table is read per report, one row at most, no write. When it has
   *    no row, the UPDATE would have matched none at that instant either: skipping it changes nothing.
   */
  private async mayHaveRollout(): Promise<boolean> {
    if (this.anyRollout) return true;
    if (this.anyRollout === false && this.db.kind === "sqlite") return false;
    const [r] = await this.db.query("SELECT id FROM rollouts LIMIT 1");
    // create() may have set it while the read waited: a true is never turned back to false.
    if (r !== undefined) this.anyRollout = true;
    else this.anyRollout ??= false;
    return this.anyRollout === true;
  }

  async recordReport(o: ReportOutcome, now: number): Promise<number[]> {
    if (!(await this.mayHaveRollout())) return [];
    // A node signalled and not yet heard from; while halted, a failed node may report again (after
    // a fix by hand), which the view then shows.
    const rows = await this.db.query(
      `UPDATE rollout_nodes SET state = $1, report_id = $2, reported_at = $3, changed = $4, error = $5
       WHERE node = $6 AND state IN ('running', 'failed') AND rollout_id IN (
         SELECT id FROM rollouts WHERE commit_sha = $7 AND noop = $8 AND state IN ('running', 'halted'))
       RETURNING rollout_id`,
      [o.state, o.id, now, o.changed, o.error, o.node, o.commit, o.noop ? 1 : 0],
    );
    return rows.map((r) => Number(r.rollout_id));
  }

  async startWave(id: number, index: number, now: number): Promise<string[] | null> {
    return this.db.tx(async (q) => {
      const [running] = await q("SELECT id FROM rollouts WHERE id = $1 AND state = 'running'", [id]);
      if (!running) return null;
      const moved = await q(
        `UPDATE rollout_waves SET state = 'running', started_at = $3
         WHERE rollout_id = $1 AND idx = $2 AND state = 'pending' RETURNING idx`,
        [id, index, now],
      );
      if (moved.length === 0) return null;
      const nodes = await q(
        `UPDATE rollout_nodes SET state = 'running' WHERE rollout_id = $1 AND wave = $2 AND state = 'pending'
         RETURNING node`,
        [id, index],
      );
      return nodes.map((r) => String(r.node)).sort();
    });
  }

  async finishWave(id: number, index: number, now: number, notBefore: number): Promise<boolean> {
    return this.db.tx(async (q) => {
      const moved = await q(
        `UPDATE rollout_waves SET state = 'done', ended_at = $3
         WHERE rollout_id = $1 AND idx = $2 AND state = 'running' RETURNING idx`,
        [id, index, now],
      );
      if (moved.length === 0) return false;
      await q("UPDATE rollout_waves SET not_before = $3 WHERE rollout_id = $1 AND idx = $2", [
        id,
        index + 1,
        notBefore,
      ]);
      return true;
    });
  }

  async haltWave(id: number, index: number, now: number, reason: string): Promise<boolean> {
    return this.db.tx(async (q) => {
      const moved = await q(
        `UPDATE rollout_waves SET state = 'failed', ended_at = $3
         WHERE rollout_id = $1 AND idx = $2 AND state = 'running' RETURNING idx`,
        [id, index, now],
      );
      if (moved.length === 0) return false;
      await q(
        "UPDATE rollouts SET state = 'halted', ended_at = $2, reason = $3 WHERE id = $1 AND state = 'running'",
        [id, now, reason],
      );
      return true;
    });
  }

  async timeOut(id: number, index: number, error: string): Promise<string[]> {
    const rows = await this.db.query(
      `UPDATE rollout_nodes SET state = 'failed', error = $3
       WHERE rollout_id = $1 AND wave = $2 AND state = 'running' RETURNING node`,
      [id, index, error],
    );
    return rows.map((r) => String(r.node)).sort();
  }

  async setState(
    id: number,
    from: RolloutState[],
    to: RolloutState,
    now: number,
    reason: string | null,
  ): Promise<boolean> {
    const allowed = from.map((_, i) => `$${i + 5}`).join(", ");
    const rows = await this.db.query(
      `UPDATE rollouts SET state = $2, ended_at = $3, reason = COALESCE($4, reason)
       WHERE id = $1 AND state IN (${allowed}) RETURNING id`,
      [id, to, to === "running" ? null : now, reason, ...from],
    );
    return rows.length > 0;
  }

  resume(id: number, now: number): Promise<{ wave: number; nodes: string[] } | null> {
    return this.db.tx(async (q) => {
      const moved = await q(
        "UPDATE rollouts SET state = 'running', ended_at = NULL, reason = NULL WHERE id = $1 AND state = 'halted' RETURNING id",
        [id],
      );
      if (moved.length === 0) return null;
      const [failed] = await q(
        "SELECT idx FROM rollout_waves WHERE rollout_id = $1 AND state = 'failed' ORDER BY idx LIMIT 1",
        [id],
      );
      if (!failed) return { wave: -1, nodes: [] };
      const index = Number(failed.idx);
      await q(
        "UPDATE rollout_waves SET state = 'running', started_at = $3, ended_at = NULL WHERE rollout_id = $1 AND idx = $2",
        [id, index, now],
      );
      const nodes = await q(
        `UPDATE rollout_nodes SET state = 'running', error = NULL
         WHERE rollout_id = $1 AND wave = $2 AND state IN ('failed', 'running') RETURNING node`,
        [id, index],
      );
      return { wave: index, nodes: nodes.map((r) => String(r.node)).sort() };
    });
  }

  async supersede(except: number, now: number): Promise<void> {
    await this.db.query(
      `UPDATE rollouts SET state = 'superseded', ended_at = $2
       WHERE id <> $1 AND noop = 0 AND state IN ('running', 'halted')`,
      [except, now],
    );
  }
}

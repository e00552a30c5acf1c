/**
 * Push signals, server side: `send()` is the one entry point (the admin routes, the git gate, and
 * later rollouts and the dashboard's buttons call it). A signal is recorded (so a node that was not
 * connected gets it when it reconnects within `push.replay`), written to the matching streams this
 * server holds, and published on the bus so the other servers of a PostgreSQL fleet write it to
 * theirs; they answer with how many streams they reached, which `send()` adds up for a short while.
 */
import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import picomatch from "picomatch";
import type { ServerConfig } from "../config.js";
import type { Metrics } from "../plugins/metrics.js";
import type { SignalRecord, Storage } from "../storage/types.js";
import { type Bus, LocalBus, MAX_MESSAGE_BYTES } from "./bus.js";
import { helloFrame, mergeSignals, reconnectWindowMs, type SignalEvent, type SignalKind } from "./events.js";
import { type Audience, StreamHub } from "./hub.js";

/** Who to signal: every node, these nodes, or the nodes whose name matches a glob. */
export type SignalTarget = "all" | string[] | { glob: string };

export interface SendResult {
  id: number;
  signal: SignalKind;
  /** Enrolled, not revoked nodes the signal is for. */
  targets: number;
  /** Streams it was written to, on this server and (PostgreSQL) the others that answered in time. */
  delivered: number;
  /** Targets not reached now: they get it when they reconnect within the replay window. */
  queued: number;
  spread_ms: number;
}

/** How long `send()` waits for other servers to say how many streams they reached. */
const ackWaitMs = 1_000;
/** Longest spread a signal asks for, however large the fleet. */
const maxSpreadMs = 3_600_000;

type Message =
  | { t: "signal"; from: string; id: number; record?: Omit<SignalRecord, "id"> }
  | { t: "ack"; to: string; id: number; n: number }
  | { t: "revoked"; node: string };

export interface SignalsOptions {
  storage: Storage;
  metrics: Metrics;
  push: ServerConfig["push"];
  now: () => number;
  warn: (message: string, err?: unknown) => void;
  /** Before a `commit` signal from another server goes out here: adopt that commit. */
  adoptCommit: (sha: string) => Promise<void>;
}

export class PushSignals {
  readonly hub: StreamHub;
  readonly serverId = randomBytes(8).toString("hex");
  private bus: Bus = new LocalBus();
  private readonly acks = new Map<number, (n: number) => void>();
  /** The highest signal id seen here; a resync delivers what came after it. */
  private seen = 0;

  constructor(private readonly o: SignalsOptions) {
    this.hub = new StreamHub({
      heartbeatMs: o.push.heartbeatMs,
      valid: (hashes) => o.storage.validCredentials(hashes),
      warn: o.warn,
    });
  }

  useBus(bus: Bus): void {
    this.bus = bus;
  }

  /** Records the signal, writes it to the streams here and publishes it; see SendResult. */
  async send(target: SignalTarget, kind: SignalKind, o: { commit?: string } = {}): Promise<SendResult> {
    const known = await this.o.storage.signalableNodes();
    let targets: string[];
    let glob: string | null = null;
    let nodes: string[] | null = null;
    if (target === "all") {
      targets = known;
      glob = "*";
    } else if (Array.isArray(target)) {
      const wanted = new Set(target);
      targets = known.filter((n) => wanted.has(n));
      nodes = targets;
    } else {
      const match = picomatch(target.glob, { dot: true });
      targets = known.filter((n) => match(n));
      glob = target.glob;
    }
    // Nobody to signal: nothing recorded (id 0).
    if (targets.length === 0)
      return { id: 0, signal: kind, targets: 0, delivered: 0, queued: 0, spread_ms: 0 };
    const spreadMs =
      targets.length <= 1
        ? 0
        : Math.min(maxSpreadMs, Math.round((targets.length / this.o.push.runRate) * 1000));
    const record = { at: this.o.now(), kind, glob, nodes, commit: o.commit ?? null, spreadMs };
    const id = await this.o.storage.recordSignal(record);
    this.seen = Math.max(this.seen, id);
    this.o.metrics.signal(kind);
    if (id % 100 === 0)
      void this.o.storage.pruneSignals(record.at - 2 * this.o.push.replayMs).catch(() => {});
    let delivered = this.deliver({ id, ...record });
    if (this.bus.shared && targets.length > 0) {
      const acked = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ackWaitMs);
        this.acks.set(id, (n) => {
          delivered += n;
          if (delivered >= targets.length) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      await this.publish({ t: "signal", from: this.serverId, id, record });
      if (delivered < targets.length) await acked;
      this.acks.delete(id);
    }
    delivered = Math.min(delivered, targets.length);
    return {
      id,
      signal: kind,
      targets: targets.length,
      delivered,
      queued: targets.length - delivered,
      spread_ms: spreadMs,
    };
  }

  /**
   * A node's stream: registered at once (signals meanwhile are kept for it), then the hello and,
   * when it reconnects with the id of the last signal it saw, what it missed since, as one event.
   */
  async open(node: string, credential: string, lastId: number | null, res: ServerResponse): Promise<void> {
    const stream = this.hub.add(node, credential, res);
    let latest = 0;
    let missed: SignalEvent | null = null;
    try {
      latest = await this.o.storage.lastSignalId();
      if (lastId !== null && lastId < latest) {
        const since = this.o.now() - this.o.push.replayMs;
        for (const r of await this.o.storage.signalsAfter(lastId, since))
          if (audience(r, node)) missed = mergeSignals(missed, event(r));
      }
    } catch (err) {
      this.o.warn(`push: cannot read the signals ${node} missed`, err);
    }
    const retry = reconnectWindowMs(this.hub.size);
    this.hub.ready(
      stream,
      helloFrame(node, Math.max(latest, lastId ?? 0), this.o.push.heartbeatMs, retry),
      missed,
    );
  }

  /** The git gate made `sha` live: every node runs if its catalog changed (one 304 if not). */
  commitPromoted(sha: string): Promise<SendResult> {
    return this.send("all", "commit", { commit: sha });
  }

  /** A node's credential was revoked: its streams end here and on the other servers at once. */
  async revoked(node: string): Promise<void> {
    this.hub.endNode(node);
    await this.publish({ t: "revoked", node });
  }

  /** A message from the bus (another server, or our own coming back). */
  async onMessage(text: string): Promise<void> {
    let m: Message;
    try {
      m = JSON.parse(text) as Message;
    } catch {
      return;
    }
    if (m.t === "ack") {
      if (m.to === this.serverId) this.acks.get(m.id)?.(m.n);
    } else if (m.t === "revoked") {
      this.hub.endNode(m.node);
    } else if (m.t === "signal" && m.from !== this.serverId) {
      const record = m.record ? { id: m.id, ...m.record } : await this.o.storage.getSignal(m.id);
      if (!record) return;
      this.seen = Math.max(this.seen, m.id);
      const n = await this.deliverRemote(record);
      if (n > 0) await this.publish({ t: "ack", to: m.from, id: m.id, n });
    }
  }

  /** After the bus reconnected: the signals of the replay window this server has not seen. */
  async resync(): Promise<void> {
    const since = this.o.now() - this.o.push.replayMs;
    for (const r of await this.o.storage.signalsAfter(this.seen, since)) {
      this.seen = Math.max(this.seen, r.id);
      await this.deliverRemote(r);
    }
  }

  async close(): Promise<void> {
    this.hub.endAll();
    await this.bus.close();
  }

  private async deliverRemote(r: SignalRecord): Promise<number> {
    if (r.kind === "commit" && r.commit) {
      // The agents told here will pull from this server (or one of its peers): it must serve the
      // new commit by then, not the one it had.
      await this.o
        .adoptCommit(r.commit)
        .catch((err) => this.o.warn("push: cannot adopt the new commit", err));
    }
    return this.deliver(r);
  }

  private deliver(r: SignalRecord): number {
    const aud: Audience =
      r.glob === "*"
        ? { all: true }
        : r.nodes
          ? { nodes: new Set(r.nodes) }
          : { match: picomatch(r.glob ?? "", { dot: true }) };
    return this.hub.deliver(aud, event(r));
  }

  private async publish(m: Message): Promise<void> {
    if (!this.bus.shared) return;
    let text = JSON.stringify(m);
    // A long node list stays in the signals table; the other servers read it by id.
    if (m.t === "signal" && Buffer.byteLength(text) > MAX_MESSAGE_BYTES)
      text = JSON.stringify({ ...m, record: undefined });
    await this.bus
      .publish(text)
      .catch((err) => this.o.warn("push: cannot publish to the other servers", err));
  }
}

function event(r: SignalRecord): SignalEvent {
  return { id: r.id, kind: r.kind, commit: r.commit, spreadMs: r.spreadMs };
}

function audience(r: SignalRecord, node: string): boolean {
  if (r.nodes) return r.nodes.includes(node);
  return r.glob === "*" || picomatch.isMatch(node, r.glob ?? "", { dot: true });
}

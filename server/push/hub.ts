/**
 * The push streams this server holds, by node. A stream is a hijacked response and four fields: no
 * timer, buffer or closure of its own. One shared timer beats for all of them (a `retry:` line
 * that proxies see as traffic and that carries the current reconnect window) and, on each beat,
 * ends the streams whose credential was revoked or superseded since they opened (TRUST A7).
 */
import type { ServerResponse } from "node:http";
import { mergeSignals, reconnectWindowMs, type SignalEvent, signalFrame } from "./events.js";

export interface Stream {
  readonly node: string;
  /** sha256 of the credential that opened it, re-checked on every beat. */
  readonly credential: string;
  readonly res: ServerResponse;
  /** Signals that came before the stream's hello went out: sent, merged, right after it. */
  pending: SignalEvent | null;
  open: boolean;
}

/** Who a signal is for. */
export type Audience = { all: true } | { nodes: ReadonlySet<string> } | { match: (node: string) => boolean };

/** Streams per node at most (an agent reconnecting before its old stream is seen closed); oldest go. */
const perNode = 2;
/** Unread bytes a stream may hold; a client that stopped reading is cut instead. */
const maxBuffered = 64 * 1024;

export class StreamHub {
  private readonly byNode = new Map<string, Stream[]>();
  private count = 0;
  private timer: NodeJS.Timeout | null = null;
  private sweeping = false;

  constructor(
    private readonly o: {
      heartbeatMs: number;
      /** Which of these credential hashes are still valid. */
      valid: (hashes: string[]) => Promise<Set<string>>;
      warn: (message: string, err: unknown) => void;
    },
  ) {}

  get size(): number {
    return this.count;
  }

  /** Registers a stream whose hello is not sent yet (signals meanwhile wait in `pending`). */
  add(node: string, credential: string, res: ServerResponse): Stream {
    const stream: Stream = { node, credential, res, pending: null, open: false };
    const list = this.byNode.get(node) ?? [];
    list.push(stream);
    this.byNode.set(node, list);
    this.count++;
    while (list.length > perNode) this.end(list[0]!);
    res.once("close", () => this.remove(stream));
    this.start();
    return stream;
  }

  /** Sends the hello, then what came meanwhile merged with `missed` (one event at most). */
  ready(stream: Stream, hello: string, missed: SignalEvent | null): void {
    if (stream.res.destroyed) return;
    const next = mergeSignals(missed, stream.pending);
    stream.pending = null;
    stream.open = true;
    this.write(stream, next ? hello + signalFrame(next) : hello);
  }

  /** Writes the signal to every stream of its audience; returns how many nodes it reached. */
  deliver(audience: Audience, event: SignalEvent): number {
    const frame = signalFrame(event);
    let n = 0;
    const send = (list: Stream[] | undefined) => {
      let reached = false;
      for (const s of list ?? []) {
        if (!s.open) s.pending = mergeSignals(s.pending, event);
        else if (!this.write(s, frame)) continue;
        reached = true;
      }
      if (reached) n++;
    };
    if ("nodes" in audience) for (const node of audience.nodes) send(this.byNode.get(node));
    else for (const [node, list] of this.byNode) if ("all" in audience || audience.match(node)) send(list);
    return n;
  }

  /** Nodes with at least one stream here. */
  connected(node: string): boolean {
    return this.byNode.has(node);
  }

  /** Ends every stream of `node` (revoked). */
  endNode(node: string): void {
    for (const s of [...(this.byNode.get(node) ?? [])]) this.end(s);
  }

  /** Ends every stream (the server is stopping); agents reconnect over their `retry:` window. */
  endAll(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const list of [...this.byNode.values()]) for (const s of [...list]) this.end(s);
  }

  /** One beat: the reconnect window to every stream, then the credential check. */
  async beat(): Promise<void> {
    const line = `retry: ${reconnectWindowMs(this.count)}\n`;
    for (const list of this.byNode.values()) for (const s of list) if (s.open) this.write(s, line);
    if (this.sweeping || this.count === 0) return;
    this.sweeping = true;
    try {
      const hashes = new Set<string>();
      for (const list of this.byNode.values()) for (const s of list) hashes.add(s.credential);
      const valid = await this.o.valid([...hashes]);
      for (const list of [...this.byNode.values()])
        for (const s of [...list]) if (!valid.has(s.credential)) this.end(s);
    } catch (err) {
      this.o.warn("push: the credential check failed; streams are checked again at the next beat", err);
    } finally {
      this.sweeping = false;
    }
  }

  private start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.beat(), this.o.heartbeatMs);
    this.timer.unref();
  }

  /** False (and the stream cut) when the client has stopped reading. */
  private write(s: Stream, text: string): boolean {
    if (s.res.destroyed) return false;
    if (s.res.writableLength > maxBuffered) {
      s.res.destroy();
      return false;
    }
    s.res.write(text);
    return true;
  }

  private end(s: Stream): void {
    this.remove(s);
    if (!s.res.destroyed) s.res.end();
  }

  private remove(s: Stream): void {
    const list = this.byNode.get(s.node);
    const i = list?.indexOf(s) ?? -1;
    if (!list || i < 0) return;
    list.splice(i, 1);
    this.count--;
    if (list.length === 0) this.byNode.delete(s.node);
  }
}

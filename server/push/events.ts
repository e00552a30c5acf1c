/**
 * What travels on a push stream (docs/api.md, "Push channel"): Server-Sent Events whose type names
 * the signal and whose data says only when to start, never what to apply. The agent then pulls its
 * signed catalog as on schedule, so a signal cannot carry resources.
 *
 *   retry: 20000                      the window over which to spread a reconnect, in ms
 *   id: 41                            the last signal id so far; the agent sends it back as Last-Event-ID
 *   event: hello                      once per stream, first
 *   data: {"node":"web-1","heartbeat_ms":25000}
 *
 *   id: 42
 *   event: run | noop | commit        run now; run now in noop; a new commit is live (run if the
 *   data: {"spread_ms":0}             catalog changed); start at a random moment in [0, spread_ms)
 */

export const SIGNAL_KINDS = ["run", "noop", "commit"] as const;
export type SignalKind = (typeof SIGNAL_KINDS)[number];

export interface SignalEvent {
  id: number;
  kind: SignalKind;
  /** For `commit`: the commit made live. */
  commit: string | null;
  spreadMs: number;
}

/**
 * A run asked twice is one run: of two signals for one node, the one asking more wins (`run` over
 * `commit`, which runs only when the catalog changed, over `noop`), with the later id.
 */
const rank: Record<SignalKind, number> = { noop: 1, commit: 2, run: 3 };

export function mergeSignals(a: SignalEvent | null, b: SignalEvent | null): SignalEvent | null {
  if (!a) return b;
  if (!b) return a;
  const winner = rank[b.kind] >= rank[a.kind] ? b : a;
  return { ...winner, id: Math.max(a.id, b.id) };
}

/** One signal as an SSE event. */
export function signalFrame(e: SignalEvent): string {
  const data: Record<string, unknown> = { spread_ms: e.spreadMs };
  if (e.commit) data.commit = e.commit;
  return `id: ${e.id}\nevent: ${e.kind}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The first frame of every stream. */
export function helloFrame(node: string, lastId: number, heartbeatMs: number, retryMs: number): string {
  const data = JSON.stringify({ node, heartbeat_ms: heartbeatMs });
  return `retry: ${retryMs}\nid: ${lastId}\nevent: hello\ndata: ${data}\n\n`;
}

/**
 * The window over which this server asks its agents to spread a reconnect (the `retry:` field):
 * 2 ms per connected stream, between 1 s and 2 min, so 10,000 streams cut at once (a restart)
 * come back over 20 s, 500 a second, instead of in the same second.
 */
export function reconnectWindowMs(streams: number): number {
  return Math.min(120_000, Math.max(1_000, streams * 2));
}

/**
 * A Last-Event-ID header as a signal id, or null (a first connection, or not an id): then nothing
 * is replayed, since the agent has not missed anything it knew of.
 */
export function lastEventId(header: string | string[] | undefined): number | null {
  const text = Array.isArray(header) ? header[0] : header;
  return text && /^[0-9]{1,15}$/.test(text) ? Number(text) : null;
}

/**
 * How a signal reaches the servers that hold the streams. SQLite means one server: the bus is this
 * process (`LocalBus` publishes nowhere). PostgreSQL means possibly several servers: `PgBus` holds
 * one dedicated connection per server process that LISTENs on the database's own channel and
 * NOTIFYs on it; no broker beyond the database the servers already share. A NOTIFY payload is at
 * most 8,000 bytes, so messages are small (a fleet-wide signal is one message whatever the fleet's
 * size; a long node list is read from the signals table by id). When the connection drops it is
 * opened again with backoff, and `onResync` lets the server catch up on what it missed.
 */
import pg from "pg";

export interface Bus {
  /** True when other servers may be listening (PostgreSQL). */
  readonly shared: boolean;
  publish(message: string): Promise<void>;
  close(): Promise<void>;
}

export class LocalBus implements Bus {
  readonly shared = false;
  async publish(): Promise<void> {}
  async close(): Promise<void> {}
}

/** NOTIFY's payload limit, less room for the channel name. */
export const MAX_MESSAGE_BYTES = 7_900;

/** The channel of one database schema: servers sharing a schema share the channel. */
export function channelName(schema: string): string {
  return `tend_push_${schema}`.slice(0, 63);
}

export interface PgBusOptions {
  url: string;
  schema: string;
  onMessage: (message: string) => void;
  /** After a reconnect (not the first connect): messages may have been missed meanwhile. */
  onResync: () => void;
  warn: (message: string, err?: unknown) => void;
}

export class PgBus implements Bus {
  readonly shared = true;
  private client: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;
  private closed = false;
  private attempt = 0;
  private everConnected = false;
  private retryTimer: NodeJS.Timeout | null = null;
  readonly channel: string;

  constructor(private readonly o: PgBusOptions) {
    this.channel = channelName(o.schema);
  }

  /** Connects and listens; a failure is retried in the background (the server starts anyway). */
  async start(): Promise<void> {
    await this.connect().catch((err) => this.retry(err));
  }

  async publish(message: string): Promise<void> {
    if (Buffer.byteLength(message) > MAX_MESSAGE_BYTES) throw new Error("push message too large for NOTIFY");
    const client = this.client ?? (await this.connect());
    await client.query("SELECT pg_notify($1, $2)", [this.channel, message]);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => undefined);
  }

  private connect(): Promise<pg.Client> {
    this.connecting ??= (async () => {
      const client = new pg.Client({ connectionString: this.o.url, connectionTimeoutMillis: 5_000 });
      client.on("error", (err) => this.lost(client, err));
      client.on("end", () => this.lost(client, new Error("connection ended")));
      client.on("notification", (n) => {
        if (n.channel === this.channel && n.payload) this.o.onMessage(n.payload);
      });
      try {
        await client.connect();
        await client.query(`LISTEN "${this.channel}"`);
      } catch (err) {
        client.removeAllListeners("end");
        await client.end().catch(() => undefined);
        throw err;
      }
      if (this.closed) {
        await client.end().catch(() => undefined);
        throw new Error("the bus is closed");
      }
      this.client = client;
      this.attempt = 0;
      if (this.everConnected) this.o.onResync();
      this.everConnected = true;
      return client;
    })().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private lost(client: pg.Client, err: unknown): void {
    if (this.client !== client) return;
    this.client = null;
    if (this.closed) return;
    this.o.warn("push: the LISTEN connection to PostgreSQL was lost; reconnecting", err);
    this.retry(err);
  }

  private retry(err: unknown): void {
    if (this.closed || this.retryTimer) return;
    if (this.attempt === 0 && !this.everConnected) this.o.warn("push: cannot LISTEN on PostgreSQL yet", err);
    // Full jitter, 0.5 s doubling to 30 s.
    const ms = Math.random() * Math.min(30_000, 500 * 2 ** this.attempt++);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect().catch((e) => this.retry(e));
    }, ms);
    this.retryTimer.unref();
  }
}

/**
 * From a process that holds no streams (`tend server node revoke`): tells the servers on this
 * PostgreSQL database that `node`'s credential is revoked, so they end its streams at once. With
 * SQLite there is nothing to tell: the one server's next beat ends them (push.heartbeat).
 */
export async function announceRevocation(database: string, schema: string, node: string): Promise<void> {
  if (!/^postgres(ql)?:/.test(database)) return;
  const client = new pg.Client({ connectionString: database, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query("SELECT pg_notify($1, $2)", [
      channelName(schema),
      JSON.stringify({ t: "revoked", node }),
    ]);
  } finally {
    await client.end().catch(() => undefined);
  }
}

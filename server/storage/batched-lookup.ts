/**
 * Lookups by key that arrive in the same turn of the event loop, answered by one query for all of
 * their keys (`WHERE key = ANY($1)`): on PostgreSQL the credential lookup that authenticates every
 * agent request is then one round trip per turn instead of one per request. Each lookup still
 * reads the database at the time of its request (no caching: a revoked credential fails at once).
 */
export class BatchedLookup<V> {
  private pending = new Map<
    string,
    { resolve: (v: V | undefined) => void; reject: (e: unknown) => void }[]
  >();
  private scheduled = false;

  /** `fetch` answers a set of distinct keys with the rows found (missing keys: no entry). */
  constructor(private readonly fetch: (keys: string[]) => Promise<Map<string, V>>) {}

  get(key: string): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const waiters = this.pending.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else this.pending.set(key, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = new Map();
    this.fetch([...batch.keys()]).then(
      (found) => {
        for (const [key, waiters] of batch) for (const w of waiters) w.resolve(found.get(key));
      },
      (err: unknown) => {
        for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
      },
    );
  }
}

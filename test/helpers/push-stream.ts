/**
 * A push stream opened over real HTTP, as a test reads it: every event kept in order, a way to wait
 * for the next one that matches, and whether (and why) it ended.
 */
import { request } from "node:http";
import { createParser, type EventSourceMessage } from "eventsource-parser";

export interface TestStream {
  status: number;
  events: EventSourceMessage[];
  /** The `retry:` values seen. */
  retries: number[];
  /** Waits for an event (after the `from`-th) matching `match`; rejects after `ms`. */
  next(match: (e: EventSourceMessage) => boolean, ms?: number, from?: number): Promise<EventSourceMessage>;
  /** Settles when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

export function openStream(
  base: string,
  node: string,
  credential: string | null,
  headers: Record<string, string> = {},
): Promise<TestStream> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/api/v1/nodes/${node}/events`, {
      headers: { ...(credential ? { authorization: `Bearer ${credential}` } : {}), ...headers },
      agent: false,
    });
    req.on("error", reject);
    req.on("response", (res) => {
      const events: EventSourceMessage[] = [];
      const retries: number[] = [];
      const waiters = new Set<() => void>();
      const parser = createParser({
        onEvent: (e) => {
          events.push(e);
          for (const w of [...waiters]) w();
        },
        onRetry: (ms) => retries.push(ms),
      });
      res.setEncoding("utf8");
      res.on("data", (c: string) => parser.feed(c));
      const ended = new Promise<void>((r) => {
        res.on("end", r);
        res.on("close", r);
      });
      resolve({
        status: res.statusCode ?? 0,
        events,
        retries,
        ended,
        close: () => req.destroy(),
        next: (match, ms = 10_000, from = 0) =>
          new Promise((ok, fail) => {
            const check = () => {
              const found = events.slice(from).find(match);
              if (!found) return false;
              waiters.delete(check as () => void);
              clearTimeout(timer);
              ok(found);
              return true;
            };
            const timer = setTimeout(() => {
              waiters.delete(check as () => void);
              fail(new Error(`no matching event in ${ms} ms; got ${JSON.stringify(events)}`));
            }, ms);
            if (!check()) waiters.add(check as () => void);
          }),
      });
    });
    req.end();
  });
}

/** The body of a stream that was refused (not 200), as JSON. */
export async function refusedBody(base: string, node: string, credential: string | null): Promise<unknown> {
  const res = await fetch(`${base}/api/v1/nodes/${node}/events`, {
    headers: credential ? { authorization: `Bearer ${credential}` } : {},
  });
  return { status: res.status, body: await res.json() };
}

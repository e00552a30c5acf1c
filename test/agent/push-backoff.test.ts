/**
 * The push channel's reconnect waits (agent/push/backoff.ts) and how signals coalesce (the daemon's
 * queue, the server's replay): data-driven, with a seeded random source.
 */
import t from "tap";
import { mergeRuns, type RunKind } from "../../agent/daemon.js";
import { BASE_MS, CAP_MS, reconnectDelayMs, refusedDelayMs } from "../../agent/push/backoff.js";
import { mergeSignals, reconnectWindowMs, type SignalEvent } from "../../server/push/events.js";

/** A small deterministic PRNG (mulberry32), so the spread below is the same on every run. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test(
  "full jitter: a uniform wait below a ceiling that doubles, capped, never below the server's window",
  async (t) => {
    const cases: [failures: number, windowMs: number, ceiling: number][] = [
      [0, 0, BASE_MS],
      [1, 0, 2 * BASE_MS],
      [4, 0, 16 * BASE_MS],
      [20, 0, CAP_MS],
      [0, 20_000, 20_000],
      [5, 20_000, 32_000],
      [0, 10 * CAP_MS, CAP_MS],
    ];
    for (const [failures, windowMs, ceiling] of cases) {
      t.equal(
        reconnectDelayMs(failures, windowMs, () => 0),
        0,
        `${failures} failures, window ${windowMs}: from 0`,
      );
      t.equal(
        reconnectDelayMs(failures, windowMs, () => 0.999999),
        ceiling - 1,
        `${failures} failures, window ${windowMs}: below ${ceiling} ms`,
      );
    }
    t.ok(refusedDelayMs(() => 0) >= CAP_MS / 2, "a refusal (401/403/404) waits at least half the cap");
    t.ok(refusedDelayMs(() => 0.999999) < CAP_MS, "and less than the cap");
  },
);

t.test(
  "10,000 agents cut at once come back spread over the server's window, not in one second",
  async (t) => {
    const random = seeded(11);
    const windowMs = reconnectWindowMs(10_000);
    t.equal(windowMs, 20_000, "a server holding 10,000 streams asks for 20 s");
    const perSecond = new Map<number, number>();
    for (let i = 0; i < 10_000; i++) {
      const s = Math.floor(reconnectDelayMs(0, windowMs, random) / 1000);
      perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
    }
    t.equal(perSecond.size, 20, "their first reconnects fall in each of 20 seconds");
    t.ok(
      Math.max(...perSecond.values()) < 600,
      `the busiest second has ${Math.max(...perSecond.values())} (of 10,000)`,
    );
    t.equal(reconnectWindowMs(3), 1_000, "a small server's window is 1 s");
    t.equal(reconnectWindowMs(1_000_000), 120_000, "and a huge one's at most 2 minutes");
  },
);

t.test("two runs asked for are one: the one that does more", async (t) => {
  const cases: [RunKind | null, RunKind, RunKind][] = [
    [null, "noop", "noop"],
    ["noop", "commit", "commit"],
    ["commit", "noop", "commit"],
    ["commit", "run", "run"],
    ["run", "noop", "run"],
    ["run", "commit", "run"],
  ];
  for (const [queued, asked, result] of cases)
    t.equal(mergeRuns(queued, asked), result, `${queued} + ${asked}`);

  const e = (id: number, kind: SignalEvent["kind"]): SignalEvent => ({ id, kind, commit: null, spreadMs: 0 });
  t.same(
    mergeSignals(e(4, "run"), e(5, "noop")),
    e(5, "run"),
    "server side: the stronger kind, the later id",
  );
  t.same(mergeSignals(null, e(3, "commit")), e(3, "commit"));
  t.same(mergeSignals(e(7, "noop"), e(2, "commit")), e(7, "commit"));
});

/**
 * When the push channel connects again: exponential backoff with full jitter (a uniformly random
 * wait below a ceiling that doubles with each failure), and never a ceiling below the server's
 * reconnect window (its `retry:`, which grows with the streams it holds). So when a server holding
 * 10,000 streams restarts, even the first reconnects are spread over its window instead of landing
 * in the same second, and the failures after that spread wider still.
 */

/** First ceiling, and the ceiling's cap (ms). */
export const BASE_MS = 1_000;
export const CAP_MS = 5 * 60_000;

/**
 * The wait before reconnect attempt `failures` (0: the stream just ended after working; 1: one
 * attempt failed since...), within the server's `windowMs`.
 */
export function reconnectDelayMs(
  failures: number,
  windowMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(CAP_MS, Math.max(windowMs, BASE_MS * 2 ** failures));
  return Math.floor(random() * ceiling);
}

/**
 * After an answer that will not change by itself soon (401/403: revoked; 404: not this server's node,
 * or a server without the channel): wait between half the cap and the cap.
 */
export function refusedDelayMs(random: () => number = Math.random): number {
  return Math.floor(CAP_MS / 2 + (random() * CAP_MS) / 2);
}

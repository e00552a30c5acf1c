/**
 * The HTTP body fuzzer (TRUST C3): the mutators of test/server/bad-input.test.ts, seeded and at
 * scale, against the in-process app (`inject()`), per route schema. Counts status codes and flags
 * any 5xx, a stack trace in a body, a non-coded error, or an answer slower than the budget.
 */

import { type Rng, rngFrom } from "./fuzz-recipes.js";
import { bearer, startTestServer } from "./server-app.js";
import { facts } from "./server-git.js";
import { makeReport } from "./server-report.js";

const pick = <T>(rng: Rng, xs: T[]): T => xs[Math.floor(rng() * xs.length)]!;

export function junkValue(rng: Rng, depth = 0): unknown {
  return pick<() => unknown>(rng, [
    () => null,
    () => rng() * 1e9,
    () => -1,
    () => "",
    () => "x".repeat(Math.floor(rng() * 300)),
    // biome-ignore lint/suspicious/noTemplateCurlyInString: template syntax must stay verbatim
    () => "{{ 7*7 }} ${x} <%= 1 %> $(id)",
    () => [],
    () => ({}),
    () => true,
    () => "\u0000\ud800\ufeff",
    () => 1e308,
    () => "2024-13-45T99:99:99Z",
    () => (depth < 4 ? [junkValue(rng, depth + 1)] : []),
    () =>
      depth < 4
        ? {
            [pick(rng, ["a", "id", "node", "__proto__x", "status", "constructor", "toString"])]: junkValue(
              rng,
              depth + 1,
            ),
          }
        : {},
  ])();
}

export function mutateBody(rng: Rng, value: unknown): unknown {
  if (value === null || typeof value !== "object") return rng() < 0.5 ? junkValue(rng) : value;
  const copy: Record<string, unknown> = Array.isArray(value)
    ? ([...value] as never)
    : { ...(value as object) };
  const keys = Object.keys(copy);
  const key = keys.length ? pick(rng, keys) : "k";
  const r = rng();
  if (r < 0.3) delete copy[key];
  else if (r < 0.6) copy[key] = junkValue(rng);
  else if (r < 0.7) copy[`extra${Math.floor(rng() * 9)}`] = junkValue(rng);
  else copy[key] = mutateBody(rng, copy[key]);
  return copy;
}

/** Raw text mutations of a JSON body: truncation, a flipped byte, duplicate keys, `__proto__`. */
function mutateText(rng: Rng, text: string): string {
  const p = Math.floor(rng() * (text.length + 1));
  return pick<() => string>(rng, [
    () => text.slice(0, p),
    () => text.slice(0, p) + String.fromCharCode(Math.floor(rng() * 256)) + text.slice(p + 1),
    () => text.replace(/^\{/, '{"__proto__":{"polluted":1},'),
    () => text.replace(/^\{"(\w+)":/, '{"$1":null,"$1":'),
    () => `${text} trailing`,
    () => `\ufeff${text}`,
    () => text.replace(/"/, "'"),
  ])();
}

export const ROUTES = ["/api/v1/reports", "/api/v1/catalog", "/api/v1/enroll", "/api/v1/hooks/git"] as const;
export type Route = (typeof ROUTES)[number];

export interface HttpStats {
  cases: number;
  byRoute: Record<string, Record<number, number>>;
  findings: { route: string; seed: number; index: number; status: number; body: string; why: string }[];
  elapsedMs: number;
  p99Ms: number;
  maxMs: number;
  rssStartMb: number;
  rssEndMb: number;
}

export async function runHttpFuzz(o: {
  seed: number;
  count: number;
  slowMs?: number;
  onProgress?: (s: HttpStats) => void;
}): Promise<HttpStats> {
  const s = await startTestServer();
  try {
    const cred = await s.enroll("web-1");
    const seeds: Record<Route, unknown> = {
      "/api/v1/reports": makeReport("web-1", null),
      "/api/v1/catalog": { facts: facts("web-1") },
      "/api/v1/enroll": { token: "tend_enr_x", node: "web-9" },
      "/api/v1/hooks/git": {},
    };
    const stats: HttpStats = {
      cases: 0,
      byRoute: {},
      findings: [],
      elapsedMs: 0,
      p99Ms: 0,
      maxMs: 0,
      rssStartMb: process.memoryUsage().rss / 2 ** 20,
      rssEndMb: 0,
    };
    const times: number[] = [];
    const started = performance.now();
    let last = started;
    const rng = rngFrom(o.seed);
    for (let i = 0; i < o.count; i++) {
      const route = ROUTES[i % ROUTES.length]!;
      const r = rng();
      let body: string;
      if (r < 0.15) body = JSON.stringify(junkValue(rng)) ?? "null";
      else {
        let v = seeds[route];
        const n = 1 + Math.floor(rng() * 3);
        for (let k = 0; k < n; k++) v = mutateBody(rng, v);
        body = JSON.stringify(v) ?? "null";
        if (r > 0.9) body = mutateText(rng, body);
      }
      const t0 = performance.now();
      const res = await s.app.inject({
        method: "POST",
        url: route,
        payload: body,
        headers: {
          "content-type": "application/json",
          ...(route === "/api/v1/hooks/git" ? {} : bearer(cred)),
        },
      });
      const ms = performance.now() - t0;
      times.push(ms);
      stats.cases++;
      const counts = stats.byRoute[route] ?? {};
      stats.byRoute[route] = counts;
      counts[res.statusCode] = (counts[res.statusCode] ?? 0) + 1;
      let why = "";
      if (res.statusCode >= 500) why = "5xx";
      else if (/\bat .*\.(ts|js):\d+/.test(res.body)) why = "stack trace in the body";
      else if (res.statusCode >= 400 && !/"code":"TEND_E_/.test(res.body)) why = "an error without a code";
      else if (ms > (o.slowMs ?? 1000)) why = `slow: ${Math.round(ms)} ms`;
      if (why && stats.findings.length < 50)
        stats.findings.push({
          route,
          seed: o.seed,
          index: i,
          status: res.statusCode,
          body: body.slice(0, 500),
          why,
        });
      const now = performance.now();
      if (o.onProgress && now - last > 10_000) {
        last = now;
        stats.elapsedMs = now - started;
        o.onProgress(stats);
      }
    }
    stats.elapsedMs = performance.now() - started;
    times.sort((a, b) => a - b);
    stats.p99Ms = times[Math.floor(times.length * 0.99)] ?? 0;
    stats.maxMs = times[times.length - 1] ?? 0;
    stats.rssEndMb = process.memoryUsage().rss / 2 ** 20;
    const health = await s.app.inject({ url: "/healthz" });
    if (health.statusCode !== 200)
      stats.findings.push({
        route: "/healthz",
        seed: o.seed,
        index: -1,
        status: health.statusCode,
        body: "",
        why: "unhealthy after the run",
      });
    if (({} as Record<string, unknown>).polluted !== undefined)
      stats.findings.push({
        route: "-",
        seed: o.seed,
        index: -1,
        status: 0,
        body: "",
        why: "Object.prototype polluted",
      });
    return stats;
  } finally {
    await s.close();
  }
}

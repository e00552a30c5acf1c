/**
 * Health checks in the engine, with small in-test kinds over real files and real probes on
 * loopback: they run after every resource, retry until a warming-up server answers, are skipped
 * behind a failed resource, probe without writing in a plan, and count in the status and the exit
 * code. Reports are checked against the report schema.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { type EngineOptions, runCatalog } from "../../../agent/engine/index.js";
import { exitCode } from "../../../agent/report.js";
import { schemaProblems } from "../../../core/schema.js";
import type { Catalog, CatalogCheck, Report } from "../../../core/types.js";
import { catalog, testFacts as facts, probeKind, resource } from "../../helpers/catalog.js";

/** An HTTP server that answers 503 to its first `warmup` requests, then 200 "ok"; counts requests. */
const server = { warmup: 0, requests: 0 };
const http = createServer((_req, res) => {
  server.requests++;
  if (server.requests <= server.warmup) res.writeHead(503).end("warming up\n");
  else res.end("ok\n");
});
await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
const base = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
t.teardown(() => http.close());

function serve(warmup: number): void {
  server.warmup = warmup;
  server.requests = 0;
}

function httpCheck(over: Partial<CatalogCheck> = {}): CatalogCheck {
  return {
    id: `http:${base}/healthz`,
    type: "http",
    url: `${base}/healthz`,
    timeout_ms: 2000,
    retries: 0,
    interval_ms: 20,
    require: [],
    source: "web/recipe.yaml:9",
    ...over,
  };
}

function commandCheck(argv: string[], over: Partial<CatalogCheck> = {}): CatalogCheck {
  return { ...httpCheck(), id: `command:${argv.join(" ")}`, type: "command", url: undefined, argv, ...over };
}

function withChecks(cat: Catalog, checks: CatalogCheck[]): Catalog {
  return { ...cat, checks: checks.map((c) => JSON.parse(JSON.stringify(c))) };
}

function setup(tt: { teardown(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), "tend-engine-checks-"));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const stateDir = join(dir, "state");
  const events: string[] = [];
  const kinds = { file: probeKind("file", dir, events) };
  const run = async (cat: Catalog, more: Partial<EngineOptions> = {}): Promise<Report> => {
    const report = await runCatalog(cat, {
      kinds,
      facts,
      stateDir,
      onResource: (r) => events.push(`settled ${r.id} ${r.status}`),
      onCheck: (c) => events.push(`probed ${c.id} ${c.status}`),
      ...more,
    });
    const problems = schemaProblems("report", JSON.parse(JSON.stringify(report)));
    if (problems.length) throw new Error(`invalid report: ${JSON.stringify(problems)}`);
    return report;
  };
  return { dir, stateDir, events, run };
}

t.test("checks run after every resource, and a passing one leaves the run's outcome alone", async (t) => {
  const s = setup(t);
  serve(0);
  const cat = withChecks(
    catalog([resource("file", "a", { content: "A" }), resource("file", "b", { content: "B" })]),
    [httpCheck({ require: ["file:a"] })],
  );
  const report = await s.run(cat);
  t.same(
    s.events.filter((e) => /^(settled|probed) /.test(e)),
    ["settled file:a changed", "settled file:b changed", `probed http:${base}/healthz ok`],
  );
  t.equal(report.status, "changed");
  t.equal(exitCode(report), 2);
  t.match(report.checks, [
    { id: `http:${base}/healthz`, type: "http", status: "ok", attempts: 1, reason: "status 200" },
  ]);
  t.match(report.summary, { checks_total: 1, checks_failed: 0, checks_skipped: 0 });
  t.equal(exitCode(await s.run(cat)), 0, "the second run changes nothing and its check passes");
});

t.test("a service warming up: the check retries at its interval until it answers", async (t) => {
  const s = setup(t);
  serve(2);
  const report = await s.run(withChecks(catalog([]), [httpCheck({ retries: 5 })]));
  t.match(report.checks?.[0], { status: "ok", attempts: 3, reason: "status 200, at attempt 3 of 6" });
  t.equal(server.requests, 3);
  serve(5);
  const short = await s.run(withChecks(catalog([]), [httpCheck({ retries: 1 })]));
  t.match(short.checks?.[0], {
    status: "failed",
    attempts: 2,
    reason: "status 503, wanted 2xx, after 2 attempts",
    excerpt: "warming up\n",
  });
});

t.test("a failed check fails the run: exit 4 alone, 6 with changes", async (t) => {
  const s = setup(t);
  const failing = commandCheck(["sh", "-c", "echo no; exit 1"]);
  const changed = await s.run(withChecks(catalog([resource("file", "a", { content: "A" })]), [failing]));
  t.equal(changed.status, "failed");
  t.match(changed.summary, { changed: 1, failed: 0, checks_failed: 1 });
  t.equal(exitCode(changed), 6);
  const unchanged = await s.run(withChecks(catalog([resource("file", "a", { content: "A" })]), [failing]));
  t.equal(unchanged.status, "failed");
  t.equal(exitCode(unchanged), 4);
  t.match(unchanged.checks?.[0], { status: "failed", reason: "exited 1, wanted 0", excerpt: "no\n" });
});

t.test("a check whose required resource failed or was skipped is skipped, and probes nothing", async (t) => {
  const s = setup(t);
  serve(0);
  const cat = withChecks(
    catalog([
      resource("file", "bad", { content: "X", fail: "apply" }),
      resource("file", "after", { content: "Y" }, { require: ["file:bad"] }),
      resource("file", "fine", { content: "Z" }),
    ]),
    [
      httpCheck({ id: "on-bad", require: ["file:bad", "file:fine"] }),
      httpCheck({ id: "on-after", require: ["file:after"] }),
      httpCheck({ id: "on-fine", require: ["file:fine"] }),
    ],
  );
  const report = await s.run(cat);
  t.same(
    report.checks?.map((c) => [c.id, c.status, c.attempts, c.reason]),
    [
      ["on-bad", "skipped", 0, "file:bad failed"],
      ["on-after", "skipped", 0, "file:after was skipped"],
      ["on-fine", "ok", 1, "status 200"],
    ],
  );
  t.equal(server.requests, 1, "only the check whose resources converged probed");
  t.match(report.summary, { failed: 1, skipped: 1, checks_total: 3, checks_failed: 0, checks_skipped: 2 });
  t.equal(exitCode(report), 6);
});

t.test("a plan probes without writing; a failure behind a pending change is unknown", async (t) => {
  const s = setup(t);
  serve(100);
  const cat = withChecks(catalog([resource("file", "a", { content: "A" })]), [
    httpCheck({ id: "behind-change", require: ["file:a"], retries: 5 }),
    httpCheck({ id: "independent", require: [], retries: 1 }),
  ]);
  const report = await s.run(cat, { noop: true });
  t.notOk(existsSync(s.stateDir), "nothing written, not even the state directory");
  t.notOk(existsSync(join(s.dir, "a")), "the resource was not applied");
  t.same(
    report.checks?.map((c) => [c.id, c.status, c.attempts]),
    [
      ["behind-change", "unknown", 1],
      ["independent", "failed", 2],
    ],
    "one attempt behind a pending change; retries otherwise",
  );
  t.match(report.checks?.[0]?.reason, /^status 503, wanted 2xx; file:a would change first/);
  t.equal(report.status, "failed");
  t.equal(exitCode(report), 6, "would change, and a check fails as the box is");
});

t.test("stopping the run during a check skips it and the ones after, and fails the run", async (t) => {
  const s = setup(t);
  const stop = new AbortController();
  const cat = withChecks(catalog([resource("file", "a", { content: "A" })]), [
    commandCheck(["sleep", "30"], { timeout_ms: 60_000 }),
    commandCheck(["true"]),
  ]);
  const report = await s.run(cat, {
    signal: stop.signal,
    onResource: () => setTimeout(() => stop.abort(), 200),
  });
  t.same(
    report.checks?.map((c) => [c.status, c.reason]),
    [
      ["skipped", "the run was stopped during this check"],
      ["skipped", "the run was stopped before this check"],
    ],
  );
  t.equal(report.status, "failed");
});

t.test("a catalog without checks gives a report without any trace of them", async (t) => {
  const s = setup(t);
  const report = await s.run(catalog([resource("file", "a", { content: "A" })]));
  t.notOk("checks" in report);
  t.same(
    Object.keys(report.summary).filter((k) => k.startsWith("checks")),
    [],
  );
});

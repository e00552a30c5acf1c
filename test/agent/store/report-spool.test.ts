import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { splayMs } from "../../../agent/daemon.js";
import { HttpClient, retryAfterMs } from "../../../agent/http.js";
import { backoffMs, Spool } from "../../../agent/store/report-spool.js";
import type { Report } from "../../../core/types.js";
import { makeReport } from "../../helpers/server-report.js";

const tmp = (t: { teardown(fn: () => void): void }) => {
  const dir = mkdtempSync(join(tmpdir(), "tend-spool-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

t.test("the spool sends oldest first and keeps what was not accepted", async (t) => {
  const spool = new Spool(tmp(t), { maxReports: 200, maxBytes: 1 << 20 });
  const reports = [1, 2, 3].map(() => makeReport("n", null));
  for (const r of reports) await spool.add(r);
  t.equal((statSync(spool.dir).mode & 0o777).toString(8), "700");
  for (const f of readdirSync(spool.dir))
    t.equal((statSync(join(spool.dir, f)).mode & 0o777).toString(8), "600");
  const sent: string[] = [];
  const failing = await spool.flush(async (r) => {
    if (sent.length === 1) throw new Error("connection refused");
    sent.push(r.id);
  });
  t.same(failing, { sent: 1, rejected: 0, left: 2, error: "connection refused" });
  const rest = await spool.flush(async (r) => {
    sent.push(r.id);
  });
  t.same(rest, { sent: 2, rejected: 0, left: 0 });
  t.same(
    sent,
    reports.map((r) => r.id),
  );
});

t.test("the spool is bounded: oldest dropped, drops counted in the next report, carried over", async (t) => {
  const spool = new Spool(tmp(t), { maxReports: 3, maxBytes: 1 << 20 });
  const all = Array.from({ length: 5 }, () => makeReport("n", null));
  for (const r of all) await spool.add(r);
  t.equal((await spool.list()).length, 3);
  const next = makeReport("n", null);
  await spool.add(next); // drops one more (the oldest left), carries the count of 2
  const got: Report[] = [];
  await spool.flush(async (r) => {
    got.push(r);
  });
  t.same(
    got.map((r) => r.id),
    [...all.slice(3).map((r) => r.id), next.id],
  );
  // Three reports were dropped (the 1st, 2nd, 3rd): each drop is counted in a later report.
  t.same(
    got.map((r) => r.dropped_reports ?? 0),
    [0, 1, 1],
  );
  await spool.add(makeReport("n", null));
  await spool.flush(async (r) => {
    t.equal(r.dropped_reports, 1, "the drop made while adding `next` rides in the report after it");
  });
});

t.test("the spool is bounded in bytes too", async (t) => {
  const spool = new Spool(tmp(t), { maxReports: 200, maxBytes: 4096 });
  for (let i = 0; i < 10; i++) await spool.add(makeReport("n", null, { count: 5 }));
  const names = await spool.list();
  const bytes = names.map((n) => statSync(join(spool.dir, n)).size).reduce((a, b) => a + b, 0);
  t.ok(bytes <= 4096 && names.length >= 1);
});

t.test("backoff grows, is capped and jittered; splay is fixed per node and within range", async (t) => {
  t.equal(
    backoffMs(1, 1000, 60_000, () => 0),
    500,
  );
  t.equal(
    backoffMs(3, 1000, 60_000, () => 1),
    4000,
  );
  t.equal(
    backoffMs(30, 1000, 60_000, () => 1),
    60_000,
  );
  t.equal(splayMs("web-1", 300), splayMs("web-1", 300));
  t.not(splayMs("web-1", 300), splayMs("web-2", 300));
  t.equal(splayMs("web-1", 0), 0);
  const spread = Array.from({ length: 1000 }, (_, i) => splayMs(`node-${i}`, 300));
  t.ok(spread.every((s) => s >= 0 && s < 300_000));
  t.ok(spread.filter((s) => s < 150_000).length > 400 && spread.filter((s) => s < 150_000).length < 600);
});

t.test("HTTP: Retry-After honoured and capped; redirects never followed with the credential", async (t) => {
  t.equal(retryAfterMs("5", 60_000), 5000);
  t.equal(retryAfterMs("500", 60_000), 60_000);
  t.equal(retryAfterMs(new Date(Date.now() + 10_000).toUTCString(), 60_000)! > 8000, true);
  t.equal(retryAfterMs(undefined, 1000), undefined);

  const seenAuth: (string | undefined)[] = [];
  let calls = 0;
  const other = createServer((req, res) => {
    seenAuth.push(req.headers.authorization);
    res.end("{}");
  });
  await new Promise<void>((r) => other.listen(0, "127.0.0.1", r));
  const otherPort = (other.address() as AddressInfo).port;
  const server = createServer((req, res) => {
    calls++;
    if (req.url === "/busy" && calls === 1) {
      res.writeHead(503, { "retry-after": "7" }).end('{"code":"TEND_E_UNAVAILABLE","message":"busy"}');
    } else if (req.url === "/moved") {
      res.writeHead(302, { location: `http://localhost:${otherPort}/x` }).end();
    } else res.end('{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => {
    server.close();
    other.close();
  });
  const waits: number[] = [];
  const http = new HttpClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, {
    credential: "tend_node_secret",
    sleep: async (ms) => {
      waits.push(ms);
    },
  });
  const reply = await http.expect({ method: "GET", path: "/busy" }, [200]);
  t.equal(reply.status, 200);
  t.same(waits, [7000]);
  const err = await http.expect({ method: "GET", path: "/moved" }, [200]).catch((e: Error) => e);
  t.match(String(err), /follows no redirects/);
  t.notMatch(String(err), /tend_node_secret/);
  t.same(seenAuth, [], "the other host never saw a request");
  const refused = await new HttpClient("http://127.0.0.1:9", {
    credential: "tend_node_secret",
    sleep: async () => {},
  })
    .send({ method: "GET", path: "/" })
    .catch((e: Error) => e);
  t.match(refused, { code: "TEND_E_AGENT_UNREACHABLE" });
  t.notMatch(String(refused), /tend_node_secret/);
});

/**
 * The health check probes against real things on loopback: an HTTP server (status, body substring,
 * excerpt, redirect, silence past the timeout), a TCP listener and a closed port, and commands that
 * exit 0, exit 1 and hang past their timeout (their whole process group killed).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { excerpt, probe } from "../../../agent/sys/probes.js";
import type { CatalogCheck } from "../../../core/types.js";

const never = new AbortController().signal;

function check(over: Partial<CatalogCheck>): CatalogCheck {
  return {
    id: "x",
    type: "http",
    timeout_ms: 2000,
    retries: 0,
    interval_ms: 0,
    require: [],
    source: "t:1",
    ...over,
  };
}

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

/** A port nothing listens on: one the kernel just gave and took back. */
async function closedPort(): Promise<number> {
  const s = createTcpServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

const big = "x".repeat(2000);
const http = createHttpServer((req, res) => {
  if (req.url === "/ok") res.end("all ok\n");
  else if (req.url === "/down") res.writeHead(503).end(`maintenance ${big}`);
  else if (req.url === "/moved") res.writeHead(302, { location: "/ok" }).end();
  else if (req.url === "/ansi") res.writeHead(500).end("\x1b[31mred\x1b[0m\x07bell\n");
  else if (req.url === "/silent")
    return; // never answers
  else res.writeHead(404).end("no such page");
});
const port = await listen(http);
t.teardown(() => {
  http.closeAllConnections();
  http.close();
});
const url = (path: string) => `http://127.0.0.1:${port}${path}`;

t.test("http: a 2xx is healthy, with what it got as the reason", async (t) => {
  t.same(await probe(check({ url: url("/ok") }), never), { ok: true, reason: "status 200" });
  t.same(await probe(check({ url: url("/ok"), contains: "ok" }), never), {
    ok: true,
    reason: "status 200, body has 'ok'",
  });
});

t.test("http: another status fails, saying what it got and wanted, with the body's start", async (t) => {
  const r = await probe(check({ url: url("/down") }), never);
  t.equal(r.ok, false);
  t.equal(r.reason, "status 503, wanted 2xx");
  t.equal(r.excerpt, `maintenance ${big}`.slice(0, 512), "the first 512 bytes of the body");
  t.same(await probe(check({ url: url("/down"), status: 503 }), never), { ok: true, reason: "status 503" });
  t.equal((await probe(check({ url: url("/ok"), status: 201 }), never)).reason, "status 200, wanted 201");
});

t.test("http: a body without the wanted text fails", async (t) => {
  const r = await probe(check({ url: url("/ok"), contains: "healthy" }), never);
  t.same(r, { ok: false, reason: "status 200, but the body lacks 'healthy'", excerpt: "all ok\n" });
});

t.test("http: a redirect is not followed: it is the status got", async (t) => {
  t.equal((await probe(check({ url: url("/moved") }), never)).reason, "status 302, wanted 2xx");
});

t.test("http: control characters of the body never reach a terminal", async (t) => {
  const r = await probe(check({ url: url("/ansi") }), never);
  t.notMatch(r.excerpt ?? "", /[\x00-\x08\x0b-\x1f\x7f]/);
  t.match(r.excerpt, /\[31mred.*bell\n$/);
});

t.test("http: a server that does not answer fails at the timeout", async (t) => {
  const r = await probe(check({ url: url("/silent"), timeout_ms: 300 }), never);
  t.same(r, { ok: false, reason: "no answer within 0.3 s" });
});

t.test("http: a closed port fails with the connect error", async (t) => {
  const r = await probe(check({ url: `http://127.0.0.1:${await closedPort()}/` }), never);
  t.same(r, { ok: false, reason: "connection refused (ECONNREFUSED)" });
});

t.test("tcp: a listener is healthy, a closed port is refused", async (t) => {
  const server = createTcpServer((s) => s.end());
  const open = await listen(server);
  t.teardown(() => server.close());
  t.same(await probe(check({ type: "tcp", host: "127.0.0.1", port: open }), never), {
    ok: true,
    reason: `connected to 127.0.0.1:${open}`,
  });
  const closed = await closedPort();
  t.same(await probe(check({ type: "tcp", host: "127.0.0.1", port: closed }), never), {
    ok: false,
    reason: "connection refused (ECONNREFUSED)",
  });
});

t.test("command: exit 0 is healthy; another exit fails with the end of its output", async (t) => {
  t.same(await probe(check({ type: "command", argv: ["true"] }), never), { ok: true, reason: "exited 0" });
  const r = await probe(check({ type: "command", argv: ["sh", "-c", "echo not ready >&2; exit 1"] }), never);
  t.same(r, { ok: false, reason: "exited 1, wanted 0", excerpt: "not ready\n" });
  const missing = await probe(check({ type: "command", argv: ["/nonexistent/tend-probe"] }), never);
  t.same(missing, { ok: false, reason: "cannot run /nonexistent/tend-probe: no such program (ENOENT)" });
});

t.test("command: one that hangs past its timeout is killed with its whole process group", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tend-probe-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pidFile = join(dir, "pid");
  const argv = ["sh", "-c", `echo $$ > ${pidFile}; sleep 300 & sleep 300`];
  const r = await probe(check({ type: "command", argv, timeout_ms: 300 }), never);
  t.same(r, { ok: false, reason: "did not finish within 0.3 s; its process group was killed" });
  const pgid = readFileSync(pidFile, "utf8").trim();
  t.equal(spawnSync("pgrep", ["-g", pgid]).status, 1, `no process left in group ${pgid}`);
});

t.test("stopping the run ends a probe at once", async (t) => {
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 100);
  const r = await probe(check({ type: "command", argv: ["sleep", "30"], timeout_ms: 60_000 }), stop.signal);
  t.same(r, { ok: false, reason: "the run was stopped" });
});

t.test("an excerpt is at most 512 bytes of whole characters", async (t) => {
  const text = "é".repeat(400); // 800 bytes
  const start = excerpt(Buffer.from(text), "start")!;
  const end = excerpt(Buffer.from(`${text}!`), "end")!;
  t.ok(Buffer.byteLength(start) <= 512 && /^é+$/.test(start), "the start, cut between characters");
  t.ok(Buffer.byteLength(end) <= 512 && /^é+!$/.test(end), "the end, cut between characters");
  t.equal(excerpt(Buffer.alloc(0), "start"), undefined);
});

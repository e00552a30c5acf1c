/**
 * The push channel, server side, over real HTTP on 127.0.0.1 (issue 11): a node's stream says hello
 * and then carries the signals sent to it and nothing else; admin routes signal one node, a glob
 * or a list, and count who got it; a stream is the node's own (TRUST B1) and ends when its
 * credential is revoked (TRUST A7); a node that reconnects gets what it missed; a promoted commit
 * is signalled; streams are exempt from the request timeouts and the in-flight limit, and end when
 * the server stops.
 */
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import t from "tap";
import { openStream, refusedBody } from "../helpers/push-stream.js";
import { bearer, startTestServer, type TestServer, type TestServerOptions } from "../helpers/server-app.js";
import { facts, goodRecipes } from "../helpers/server-git.js";

async function listening(o: TestServerOptions = {}): Promise<{ s: TestServer; base: string }> {
  const s = await startTestServer(o);
  await s.app.listen({ port: 0, host: "127.0.0.1" });
  return { s, base: `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}` };
}

async function admin(s: TestServer, url: string, payload: unknown) {
  const res = await s.app.inject({
    method: "POST",
    url,
    headers: bearer(s.adminToken),
    payload: payload as object,
  });
  return { status: res.statusCode, json: res.json() };
}

const data = (e: { data: string }) => JSON.parse(e.data) as Record<string, unknown>;

t.test("a node's stream: hello, then the signals sent to it, and only those", async (t) => {
  const { s, base } = await listening();
  t.teardown(() => s.close());
  const web1 = await s.enroll("web-1");
  const web2 = await s.enroll("web-2");
  await s.enroll("db-1");
  const a = await openStream(base, "web-1", web1);
  const b = await openStream(base, "web-2", web2);
  t.teardown(() => {
    a.close();
    b.close();
  });
  t.equal(a.status, 200);
  const hello = await a.next((e) => e.event === "hello");
  t.same(data(hello), { node: "web-1", heartbeat_ms: 25_000 }, "the hello names the node and the heartbeat");
  t.match(hello.id, /^[0-9]+$/, "and carries the last signal id");
  t.ok(a.retries[0]! >= 1000, "a reconnect window comes first (retry:)");

  const one = await admin(s, "/api/v1/nodes/web-1/run", {});
  t.match(one, { status: 200, json: { signal: "run", targets: 1, delivered: 1, queued: 0, spread_ms: 0 } });
  const run = await a.next((e) => e.event === "run");
  t.equal(run.id, String(one.json.id), "the event's id is the signal's");
  t.same(data(run), { spread_ms: 0 }, "a signal says when to start, nothing else");

  const plan = await admin(s, "/api/v1/nodes/web-1/run", { noop: true });
  t.equal((await a.next((e) => e.event === "noop")).id, String(plan.json.id), "noop: run in noop");

  const glob = await admin(s, "/api/v1/signals", { nodes: "web-*", signal: "run" });
  t.match(
    glob.json,
    { targets: 2, delivered: 2, queued: 0, spread_ms: 20 },
    "a glob: spread over 2 / run_rate s",
  );
  await b.next((e) => e.id === String(glob.json.id));

  const all = await admin(s, "/api/v1/signals", { nodes: "*", signal: "commit" });
  t.match(all.json, { targets: 3, delivered: 2, queued: 1 }, "db-1 is not connected: queued");
  const list = await admin(s, "/api/v1/signals", { nodes: ["db-1", "nope"], signal: "run" });
  t.match(list.json, { targets: 1, delivered: 0, queued: 1 }, "a list: only enrolled nodes count");
  await a.next((e) => e.id === String(all.json.id));
  t.same(
    b.events.map((e) => e.event),
    ["hello", "run", "commit"],
    "web-2 got the glob and the fleet-wide signal, not web-1's own",
  );

  const metrics = (await s.app.inject({ url: "/metrics" })).body;
  t.match(metrics, /^tend_push_streams 2$/m, "/metrics counts the streams held");
  t.match(metrics, /^tend_push_signals_total\{signal="run"\} 3$/m, "and the signals sent");
  t.equal((await admin(s, "/api/v1/nodes/nope/run", {})).status, 404, "an unknown node: 404");
  t.equal(
    (await admin(s, "/api/v1/signals", { nodes: "*", signal: "apply" })).status,
    400,
    "an unknown signal: 400",
  );
  t.equal((await admin(s, "/api/v1/signals", { signal: "run" })).status, 400, "no nodes: 400");
});

t.test("a stream is the node's own, and ends when its credential is revoked (TRUST B1, A7)", async (t) => {
  const { s, base } = await listening({ config: { push: { heartbeat: "200ms" } } });
  t.teardown(() => s.close());
  const web1 = await s.enroll("web-1");
  await s.enroll("web-2");
  const theirs = await refusedBody(base, "web-2", web1);
  const missing = await refusedBody(base, "nope", web1);
  t.same(theirs, { status: 404, body: { code: "TEND_E_HTTP_NOT_FOUND", message: "No such node." } });
  t.same(theirs, missing, "another node's stream is answered as a missing node's");
  t.match(await refusedBody(base, "web-1", null), { status: 401 }, "no credential: 401");
  t.match(await refusedBody(base, "web-1", s.adminToken), { status: 403 }, "an admin token: 403");

  const stream = await openStream(base, "web-1", web1);
  await stream.next((e) => e.event === "hello");
  while (stream.retries.length < 2) await new Promise((r) => setTimeout(r, 50));
  t.pass("each heartbeat repeats the reconnect window (retry:)");
  t.ok(await s.storage.revokeNode("web-1", Date.now()));
  await stream.ended;
  t.pass("the stream ended at the next heartbeat after the revocation");
  t.match(await refusedBody(base, "web-1", web1), { status: 401 }, "and it cannot be opened again");
});

t.test("revoked from the console or the API, a node's stream ends at once", async (t) => {
  // A heartbeat of an hour: only the revocation itself can end the stream in time.
  const { s, base } = await listening({ config: { push: { heartbeat: "1h" } } });
  t.teardown(() => s.close());
  const web1 = await s.enroll("web-1");
  const stream = await openStream(base, "web-1", web1);
  await stream.next((e) => e.event === "hello");
  t.equal((await admin(s, "/api/v1/nodes/web-1/revoke", {})).status, 200);
  const ended = await Promise.race([
    stream.ended.then(() => true),
    new Promise((r) => setTimeout(() => r(false), 10_000)),
  ]);
  t.ok(ended, "the stream ended with the revocation, not at a heartbeat");
});

t.test("a node that reconnects gets what it missed, as one event", async (t) => {
  const { s, base } = await listening({ config: { push: { replay: "2s" } } });
  t.teardown(() => s.close());
  const web1 = await s.enroll("web-1");
  const first = await openStream(base, "web-1", web1);
  const seen = (await first.next((e) => e.event === "hello")).id!;
  first.close();
  await admin(s, "/api/v1/nodes/web-1/run", { noop: true });
  const run = await admin(s, "/api/v1/signals", { nodes: "web-*", signal: "run" });
  const last = await admin(s, "/api/v1/signals", { nodes: "*", signal: "noop" });
  await admin(s, "/api/v1/signals", { nodes: "db-*", signal: "run" });

  const back = await openStream(base, "web-1", web1, { "last-event-id": seen });
  t.teardown(() => back.close());
  const missed = await back.next((e) => e.event !== "hello");
  t.equal(missed.event, "run", "the strongest signal it missed (run over noop)");
  t.equal(missed.id, String(last.json.id), "with the id of the last one it missed");
  t.ok(Number(missed.id) > Number(run.json.id));
  t.same(
    back.events.map((e) => e.event),
    ["hello", "run"],
    "one event for three missed signals; db-*'s is not for it",
  );

  const fresh = await openStream(base, "web-1", web1);
  t.teardown(() => fresh.close());
  await fresh.next((e) => e.event === "hello");
  const after = await admin(s, "/api/v1/nodes/web-1/run", {});
  await fresh.next((e) => e.id === String(after.json.id));
  t.same(
    fresh.events.map((e) => e.event),
    ["hello", "run"],
    "without Last-Event-ID nothing is replayed",
  );

  // Past the replay window (2 s here), a missed signal is not replayed: the schedule has run since.
  const mark = (await fresh.next((e) => e.event === "hello")).id!;
  fresh.close();
  await admin(s, "/api/v1/nodes/web-1/run", {});
  await new Promise((r) => setTimeout(r, 2_200));
  const late = await openStream(base, "web-1", web1, { "last-event-id": mark });
  t.teardown(() => late.close());
  const probe = await admin(s, "/api/v1/nodes/web-1/run", { noop: true });
  await late.next((e) => e.id === String(probe.json.id));
  t.same(
    late.events.map((e) => e.event),
    ["hello", "noop"],
    "a signal older than push.replay is not replayed",
  );
});

t.test("a promoted commit is signalled to every node, naming the commit", async (t) => {
  const { s, base } = await listening();
  t.teardown(() => s.close());
  const web1 = await s.enroll("web-1");
  const stream = await openStream(base, "web-1", web1);
  t.teardown(() => stream.close());
  await stream.next((e) => e.event === "hello");
  const sha = s.repo.commit({ ...goodRecipes, "README.md": "a new commit\n" }, "new commit");
  const hook = await admin(s, "/api/v1/hooks/git", {});
  t.equal(hook.json.live, sha);
  const signal = await stream.next((e) => e.event === "commit");
  t.same(data(signal), { spread_ms: 0, commit: sha });
});

t.test("a commit that leaves a node's catalog as it was keeps its ETag: the poll is one 304", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const web1 = await s.enroll("web-1");
  const poll = (etag?: string) =>
    s.app.inject({
      method: "POST",
      url: "/api/v1/catalog",
      headers: { ...bearer(web1), ...(etag ? { "if-none-match": etag } : {}) },
      payload: { facts: facts("web-1") },
    });
  const first = await poll();
  const etag = String(first.headers.etag);
  const docs = s.repo.commit({ ...goodRecipes, "README.md": "docs only\n" }, "docs");
  t.equal((await admin(s, "/api/v1/hooks/git", {})).json.live, docs);
  const again = await poll(etag);
  t.equal(again.statusCode, 304, "unchanged by the commit: 304");
  t.equal(again.headers["x-tend-commit"], docs, "(the server serves the new commit)");
  const motd = 'description: base\nresources:\n  - file: /etc/motd\n    content: "hi\\n"\n';
  const changed = s.repo.commit({ ...goodRecipes, "base/recipe.yaml": motd }, "a change");
  await admin(s, "/api/v1/hooks/git", {});
  const fresh = await poll(etag);
  t.equal(fresh.statusCode, 200, "a commit that changes the node's catalog: 200");
  t.equal(fresh.json().catalog.commit, changed, "naming the commit");
  t.ok(fresh.json().serial > first.json().serial, "with a higher serial");
});

t.test(
  "streams outlive the request timeouts, do not count as requests in flight, end at close",
  async (t) => {
    const { s, base } = await listening({
      timeoutMs: 300,
      config: { limits: { max_in_flight: 2, enroll_burst: 100, enroll_per_minute: 1000 } },
    });
    let closed = false;
    t.teardown(() => (closed ? undefined : s.close()));
    const streams = [];
    for (const node of ["n-1", "n-2", "n-3"]) {
      const stream = await openStream(base, node, await s.enroll(node));
      await stream.next((e) => e.event === "hello");
      streams.push(stream);
    }
    // An idle connection is closed by the server's inactivity timeout (300 ms here)...
    const idle = connect(Number(new URL(base).port), "127.0.0.1");
    await new Promise((r) => idle.once("close", r));
    t.pass("an idle connection was cut by the timeout");
    // ...while the streams, as quiet, stay open past it.
    await new Promise((r) => setTimeout(r, 1_000));
    const res = await fetch(`${base}/healthz`);
    t.equal(res.status, 200, "three open streams and max_in_flight 2: requests are still served");
    const sent = await admin(s, "/api/v1/signals", { nodes: "*", signal: "run" });
    t.equal(sent.json.delivered, 3, "every stream is still open");
    for (const stream of streams) await stream.next((e) => e.id === String(sent.json.id));

    await s.close();
    closed = true;
    await Promise.all(streams.map((x) => x.ended));
    t.pass("closing the server ended every stream (and did not wait for them)");
  },
);

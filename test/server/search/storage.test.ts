/**
 * Fleet search on each database against the brute-force filter (test/helpers/search-oracle.ts):
 * generated fleets (facts of every JSON type, lists, reports with every resource status), fixed
 * and random searches; an injection attempt; facts saved before the search table existed.
 */
import t from "tap";
import { parseSearch } from "../../../server/search/parse.js";
import type { Storage } from "../../../server/storage/types.js";
import {
  commitsPool,
  type OracleNode,
  oracle,
  randomFacts,
  randomReport,
  randomSearch,
  rng,
} from "../../helpers/search-oracle.js";
import { testStorages } from "../../helpers/server-storage.js";

const stale = { iso: "2030-01-02T00:00:00.000Z", ms: 5000 };
const live = commitsPool[0] as string;

async function enroll(s: Storage, name: string, at: number): Promise<void> {
  const hash = `tok-${name}`;
  await s.createToken({
    hash,
    kind: "enroll",
    created_at: 0,
    expires_at: null,
    uses_left: 1,
    node_glob: null,
    reenroll: false,
  });
  const out = await s.enroll({
    tokenHash: hash,
    node: name,
    credentialHash: `cred-${name}`,
    now: at,
    allowSupersede: false,
  });
  if (!out.ok) throw new Error(out.reason);
}

/** `count` nodes: most with facts (some saved twice, the second replacing the first) and 0-3 reports. */
async function fleet(s: Storage, seed: number, count: number): Promise<OracleNode[]> {
  const r = rng(seed);
  const out: OracleNode[] = [];
  for (let i = 0; i < count; i++) {
    const name = `node-${i}`;
    const n: OracleNode = { name, enrolled_at: r.pick([1000, 9000]), facts: null, last: null };
    await enroll(s, name, n.enrolled_at);
    if (r.next() < 0.9) {
      if (r.next() < 0.3) await s.saveFacts(name, randomFacts(r, name), 2000);
      n.facts = randomFacts(r, name);
      await s.saveFacts(name, n.facts, 3000);
    }
    const reports = r.int(4);
    for (let k = 0; k < reports; k++) {
      const day = r.pick(["2030-01-01", "2030-01-03"]);
      const started = `${day}T0${k}:00:00.000Z`;
      const rep = randomReport(r, name, started);
      await s.saveReport(rep, 4000);
      if (!n.last || n.last.started_at <= started) n.last = rep;
    }
    out.push(n);
  }
  return out;
}

async function search(s: Storage, where: string): Promise<string[]> {
  const { rows } = await s.ui.fleet({
    where: parseSearch(where),
    live,
    stale,
    sort: "name",
    desc: false,
    offset: 0,
    limit: 100_000,
  });
  return rows.map((x) => x.name);
}

const expected = (nodes: OracleNode[], where: string) =>
  nodes
    .filter((n) => oracle(parseSearch(where), n, { stale, live }))
    .map((n) => n.name)
    .sort();

const fixed = [
  "os.version_id = 12",
  "os.version_id = '12'",
  "os.version_id != 12",
  "os.version_id > 11 and os.version_id < 13",
  "os.version_id = ''",
  "package:nginx failed",
  "file:/etc/nginx/nginx.conf drifted",
  "'file:/etc/my file.conf' changed",
  "package:nginx* failed or service:nginx skipped",
  "commit != live",
  "commit = live and not stale",
  "stale",
  "failing",
  "drifted and not failing",
  "ipv4 = 10.0.1.2",
  "ipv4 ~ 10.0.2.*",
  "disks.size_gb >= 50",
  "virtual = null or virtual = true",
  "role = 12",
  "memory_mb < 4096 and cpus >= 2",
  "name ~ node-1* and status != none",
  "status = none",
  "kernel > '6.1'",
];

for (const make of testStorages()) {
  const probe = make();
  const name = probe.name;
  await probe.cleanup();
  t.test(`${name}: searches match the brute-force filter on generated fleets`, async (t) => {
    const ts = make();
    const s = await ts.open();
    t.teardown(async () => {
      await s.close();
      await ts.cleanup();
    });
    const nodes = await fleet(s, 42, 120);
    for (const q of fixed) t.same(await search(s, q), expected(nodes, q), q);
    // The fixed searches are not vacuous: each of these selects some nodes and not all.
    for (const q of [
      "package:nginx failed",
      "os.version_id = 12",
      "stale",
      "commit != live",
      "ipv4 = 10.0.1.2",
    ]) {
      const n = expected(nodes, q).length;
      t.ok(n > 0 && n < nodes.length, `${q} selects ${n} of ${nodes.length}`);
    }
    const r = rng(7);
    for (let i = 0; i < 150; i++) {
      const q = randomSearch(r, 3);
      t.same(await search(s, q), expected(nodes, q), q);
    }
  });

  t.test(`${name}: a second fleet, another seed`, async (t) => {
    const ts = make();
    const s = await ts.open();
    t.teardown(async () => {
      await s.close();
      await ts.cleanup();
    });
    const nodes = await fleet(s, 1234, 60);
    const r = rng(99);
    for (let i = 0; i < 100; i++) {
      const q = randomSearch(r, 2);
      t.same(await search(s, q), expected(nodes, q), q);
    }
  });

  t.test(`${name}: user input is bound, never spliced into SQL`, async (t) => {
    const ts = make();
    const s = await ts.open();
    t.teardown(async () => {
      await s.close();
      await ts.cleanup();
    });
    await enroll(s, "web-1", 1000);
    await s.saveFacts("web-1", { ...randomFacts(rng(1), "web-1"), note: "x' OR '1'='1" }, 2000);
    await enroll(s, "web-2", 1000);
    const attacks = [
      `role = "x' OR '1'='1"`,
      `role = "'; DROP TABLE nodes; --"`,
      `name = "web-1' OR 1=1 --"`,
      `"package:x'); DELETE FROM nodes; --" failed`,
      `role ~ "*' OR name LIKE '%"`,
    ];
    for (const q of attacks) t.same(await search(s, q), [], `${q} matches nothing`);
    t.same(await search(s, `note = "x' OR '1'='1"`), ["web-1"], "quotes in a value are just characters");
    t.same((await s.listNodes()).length, 2, "the nodes table is intact");
  });

  t.test(`${name}: facts saved before the search table existed are indexed at start`, async (t) => {
    const ts = make();
    const s = await ts.open();
    await enroll(s, "old-1", 1000);
    await s.saveFacts("old-1", randomFacts(rng(3), "old-1"), 2000);
    // As a database from before node_facts: the facts are in nodes only.
    const db = (s as unknown as { db: { query(sql: string): Promise<unknown> } }).db;
    await db.query("DELETE FROM node_facts");
    t.same(await search(s, "hostname = old-1"), [], "not found while unindexed");
    await s.close();
    const again = await ts.open();
    t.teardown(async () => {
      await again.close();
      await ts.cleanup();
    });
    t.same(await search(again, "hostname = old-1"), ["old-1"], "found after the next start");
  });
}

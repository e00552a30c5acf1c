/**
 * Simultaneous first enrolments of one node name (TRUST A3, I1): exactly one wins; the others are
 * refused with 409 and keep their token, or — with re-enrolment tokens — supersede the winner and
 * say so; the credential that ends up stored is the one the last winner was given, and every
 * other credential fails. On both storages; on PostgreSQL the enrolments run on separate
 * connections at once (before, both saw no row and the second silently replaced the first).
 */
import t from "tap";
import { hashSecret } from "../../server/identity.js";
import { startTestServer } from "../helpers/server-app.js";
import { testStorages } from "../helpers/server-storage.js";

const rounds = 12;
const racers = 4;

for (const make of testStorages()) {
  const ts = make();
  t.test(`racing first enrolments on ${ts.name}`, async (t) => {
    const s = await startTestServer({ storage: ts, recipes: null });
    t.teardown(() => s.close());
    const enrol = (token: string, node: string) =>
      s.app.inject({ method: "POST", url: "/api/v1/enroll", payload: { token, node } });

    for (let round = 0; round < rounds; round++) {
      const node = `race-${round}`;
      const tokens = await Promise.all(Array.from({ length: racers }, () => s.enrollToken()));
      const replies = await Promise.all(tokens.map((tok) => enrol(tok, node)));
      const won = replies.filter((r) => r.statusCode === 200);
      t.equal(won.length, 1, `${node}: one enrolment wins`);
      for (const r of replies.filter((r) => r.statusCode !== 200)) {
        t.equal(r.statusCode, 409);
        t.equal(r.json().code, "TEND_E_NODE_EXISTS", "the others: the name is taken");
      }
      const credential = String(won[0]?.json().credential);
      t.equal((await s.storage.authenticateNode(hashSecret(credential)))?.name, node, "the winner's works");
      const left = await Promise.all(tokens.map((tok) => s.storage.getToken(hashSecret(tok))));
      t.equal(left.filter((x) => x?.uses_left === 0).length, 1, "only the winner's token is spent");
    }
  });

  const ts2 = make();
  t.test(`racing re-enrolment tokens on a new name on ${ts2.name}`, async (t) => {
    const s = await startTestServer({ storage: ts2, recipes: null });
    t.teardown(() => s.close());
    const enrol = (token: string, node: string) =>
      s.app.inject({ method: "POST", url: "/api/v1/enroll", payload: { token, node } });

    for (let round = 0; round < rounds; round++) {
      const node = `re-${round}`;
      const tokens = await Promise.all(
        Array.from({ length: racers }, () => s.enrollToken({ reenroll: true, glob: "re-*" })),
      );
      const replies = await Promise.all(tokens.map((tok) => enrol(tok, node)));
      t.same(
        replies.map((r) => r.statusCode),
        Array(racers).fill(200),
        `${node}: each re-enrolment succeeds`,
      );
      const bodies = replies.map((r) => r.json());
      t.equal(bodies.filter((b) => !b.superseded).length, 1, "exactly one was first; the others superseded");
      const working = [];
      for (const b of bodies) {
        if ((await s.storage.authenticateNode(hashSecret(String(b.credential))))?.name === node)
          working.push(b);
      }
      t.equal(working.length, 1, "exactly one credential works: the last one given out");
      const [n] = (await s.storage.listNodes()).filter((x) => x.name === node);
      t.ok(n, "one node row");
    }
  });
}

/** Enrolment (TRUST A3, A4): single use, expiry, name globs, names, re-enrolment, rate limit. */
import t from "tap";
import { clientKey } from "../../server/routes/enroll.js";
import { bearer, startTestServer } from "../helpers/server-app.js";
import { serverConfigDir, tendServer } from "../helpers/server-process.js";

t.test("enrolment tokens", async (t) => {
  const s = await startTestServer({ recipes: null });
  t.teardown(() => s.close());
  const enrol = (token: string, node: string) =>
    s.app.inject({ method: "POST", url: "/api/v1/enroll", payload: { token, node } });

  const once = await s.enrollToken();
  t.equal((await enrol(once, "web-1")).statusCode, 200);
  const second = await enrol(once, "web-2");
  t.equal(second.statusCode, 409, "a second redemption is 409");
  t.equal(second.json().code, "TEND_E_TOKEN_SPENT");

  t.equal(
    (await enrol(await s.enrollToken({ ttlMs: -1 }), "web-3")).statusCode,
    401,
    "an expired token is 401",
  );
  const bound = await s.enrollToken({ glob: "web-1*", uses: 5 });
  t.equal((await enrol(bound, "web-2")).statusCode, 403, "a token bound to web-1* cannot enrol web-2");
  t.equal((await enrol(bound, "web-10")).statusCode, 200);
  t.equal((await enrol("tend_enr_nope", "web-4")).statusCode, 401);
  t.equal((await enrol(s.adminToken, "web-4")).statusCode, 401, "an admin token is not an enrolment token");

  const many = await s.enrollToken({ uses: 100 });
  for (const bad of [
    "..",
    "a..b",
    "Web-1",
    "-a",
    "a-",
    "10.0.0.1",
    "a/b",
    "a\0b",
    "\x1b[31m",
    "wеb",
    "x".repeat(300),
    "",
  ]) {
    const res = await enrol(many, bad);
    t.equal(res.statusCode, 400, `node name ${JSON.stringify(bad.slice(0, 20))} is refused`);
  }

  t.test("re-enrolling a name needs a token that allows it, and revokes the old credential", async (t) => {
    const first = (await enrol(await s.enrollToken(), "db-1")).json().credential;
    const refused = await enrol(await s.enrollToken(), "db-1");
    t.equal(refused.statusCode, 409);
    t.equal(refused.json().code, "TEND_E_NODE_EXISTS");
    const other = await enrol(await s.enrollToken({ reenroll: true, glob: "db-2" }), "db-1");
    t.equal(other.statusCode, 403, "a re-enrolment token for db-2 cannot take db-1");
    const again = await enrol(await s.enrollToken({ reenroll: true, glob: "db-*" }), "db-1");
    t.equal(again.statusCode, 200);
    t.equal(again.json().superseded, true);
    const old = await s.app.inject({
      method: "POST",
      url: "/api/v1/catalog",
      headers: bearer(first),
      payload: { facts: {} },
    });
    t.equal(old.statusCode, 401, "the superseded credential no longer works");
  });

  t.test("a re-enrolment token without a node glob enrols nothing (TRUST A3, B2)", async (t) => {
    const victim = (await enrol(await s.enrollToken(), "vault-1")).json().credential;
    const token = await s.enrollToken({ reenroll: true, uses: 5 });
    for (const node of ["vault-1", "brand-new-1"]) {
      const res = await enrol(token, node);
      t.equal(res.statusCode, 403, node);
      t.match(res.json(), { code: "TEND_E_FORBIDDEN", message: /names no nodes.*--reenroll --node GLOB/ });
    }
    const still = await s.app.inject({
      method: "POST",
      url: "/api/v1/catalog",
      headers: bearer(victim),
      payload: { facts: {} },
    });
    t.not(still.statusCode, 401, "the existing node's credential still works");
  });

  t.test("1,000 random tokens enrol nothing", async (t) => {
    let ok = 0;
    for (let i = 0; i < 1000; i++) {
      const res = await enrol(`tend_enr_${Math.random().toString(36).slice(2)}${i}`, `n-${i}`);
      if (res.statusCode === 200) ok++;
    }
    t.equal(ok, 0);
  });
});

/** A server allowing 3 enrolment attempts in a burst, then one a minute. */
async function limitedServer(t: { teardown(fn: () => unknown): void }, behindProxy: boolean) {
  const s = await startTestServer({
    recipes: null,
    config: { behind_tls_proxy: behindProxy, limits: { enroll_burst: 3, enroll_per_minute: 1 } },
  });
  t.teardown(() => s.close());
  /** One enrolment attempt with a bad token (401 when allowed) and these headers. */
  const attempt = (headers: Record<string, string> = {}) =>
    s.app.inject({
      method: "POST",
      url: "/api/v1/enroll",
      headers,
      payload: { token: "tend_enr_x", node: "a" },
    });
  return { attempt };
}

t.test("enrolment is rate-limited per address", async (t) => {
  const { attempt } = await limitedServer(t, false);
  const codes: number[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await attempt();
    codes.push(res.statusCode);
    if (res.statusCode === 429) t.ok(Number(res.headers["retry-after"]) > 0, "with a Retry-After");
  }
  t.same(codes, [401, 401, 401, 429, 429]);
});

t.test(
  "behind a TLS proxy, a client cannot dodge the rate limit by sending its own X-Forwarded-For",
  async (t) => {
    const { attempt } = await limitedServer(t, true);
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) {
      // The proxy appends the client's address; the client forges a fresh one in front each time.
      codes.push((await attempt({ "x-forwarded-for": `10.9.9.${i}, 198.51.100.7` })).statusCode);
    }
    t.same(codes, [401, 401, 401, 429, 429], "counted by the address the proxy saw");
  },
);

t.test("an IPv6 client is limited per /64: it cannot spray its own addresses around the limit", async (t) => {
  const { attempt } = await limitedServer(t, true);
  const codes: number[] = [];
  for (let i = 0; i < 5; i++) {
    codes.push((await attempt({ "x-forwarded-for": `2001:db8:0:7::${(i + 1).toString(16)}` })).statusCode);
  }
  t.same(codes, [401, 401, 401, 429, 429], "five addresses of one /64 share a bucket");
  const other = await attempt({ "x-forwarded-for": "2001:db8:0:8::1" });
  t.equal(other.statusCode, 401, "another /64 has its own");
  t.equal(clientKey("2001:DB8::7:0:0:0:1"), "2001:db8:0:7::/64");
  t.equal(clientKey("::ffff:192.0.2.1"), "192.0.2.1");
  t.equal(clientKey("::1"), "0:0:0:0::/64");
});

t.test("tend server token create --reenroll needs --node", async (t) => {
  const { config } = serverConfigDir(t, "tend-reenroll-");
  const failure = await tendServer(["token", "create", "--reenroll", "--config", config]).then(
    () => "",
    (err: { stderr?: string }) => String(err.stderr),
  );
  t.match(failure, /--reenroll needs --node GLOB/);
  t.match(failure, /TEND_E_USAGE|could replace the credential of any node/);
  const made = await tendServer(["token", "create", "--reenroll", "--node", "web-1", "--config", config]);
  t.match(made.stdout, /^tend_enr_/);
  const list = await tendServer(["token", "list", "--config", config]);
  t.match(list.stdout, /\tenroll\t.*\tweb-1\treenroll\n/, "stored with its glob");
  t.notMatch(list.stdout, /\t-\treenroll/, "and no glob-less re-enrolment token was stored");
});

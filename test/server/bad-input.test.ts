/** Hostile bodies (TRUST C1, C2, E1, E2): 400/413/415 with {code, message}, never a 5xx, server stays up. */
import { brotliCompressSync, gzipSync } from "node:zlib";
import t from "tap";
import { bearer, startTestServer } from "../helpers/server-app.js";
import { facts } from "../helpers/server-git.js";
import { makeReport } from "../helpers/server-report.js";

t.test("bad bodies get coded 4xx answers", async (t) => {
  const s = await startTestServer({
    config: { limits: { body_bytes: 65536, enroll_burst: 100000, enroll_per_minute: 1000000 } },
  });
  t.teardown(() => s.close());
  const cred = await s.enroll("web-1");
  const post = (url: string, payload: string | Buffer, headers: Record<string, string> = {}) =>
    s.app.inject({
      method: "POST",
      url,
      payload,
      headers: { "content-type": "application/json", ...bearer(cred), ...headers },
    });

  const cases: [string, string, string | Buffer, Record<string, string>, number][] = [
    ["yaml", "/api/v1/reports", "id: x", { "content-type": "application/yaml" }, 415],
    ["text", "/api/v1/catalog", "{}", { "content-type": "text/plain" }, 415],
    ["msgpack", "/api/v1/catalog", "\x80", { "content-type": "application/msgpack" }, 415],
    [
      "brotli",
      "/api/v1/catalog",
      brotliCompressSync(JSON.stringify({ facts: facts("web-1") })),
      { "content-encoding": "br" },
      415,
    ],
    [
      "gzipped yaml",
      "/api/v1/reports",
      gzipSync("id: x"),
      { "content-type": "application/yaml", "content-encoding": "gzip" },
      415,
    ],
    [
      "corrupt gzip",
      "/api/v1/catalog",
      Buffer.from("\x1f\x8b\x08\x00garbage"),
      { "content-encoding": "gzip" },
      400,
    ],
    ["malformed", "/api/v1/reports", "{not json", {}, 400],
    ["empty", "/api/v1/catalog", "", {}, 400],
    [
      "__proto__",
      "/api/v1/catalog",
      '{"facts":{"hostname":"a","os":{},"__proto__":{"polluted":1}}}',
      {},
      400,
    ],
    [
      "constructor.prototype",
      "/api/v1/catalog",
      '{"facts":{"hostname":"a","os":{},"constructor":{"prototype":{"polluted":1}}}}',
      {},
      400,
    ],
    ["too large", "/api/v1/reports", JSON.stringify({ pad: "x".repeat(70_000) }), {}, 413],
    [
      "too deep",
      "/api/v1/catalog",
      `{"facts":{"hostname":"a","os":{},"d":${"[".repeat(100)}${"]".repeat(100)}}}`,
      {},
      400,
    ],
    [
      "wrong type",
      "/api/v1/reports",
      JSON.stringify({ ...makeReport("web-1", null), resources: "all" }),
      {},
      400,
    ],
    ["unknown key", "/api/v1/reports", JSON.stringify({ ...makeReport("web-1", null), extra: 1 }), {}, 400],
    ["array body", "/api/v1/catalog", "[]", {}, 400],
  ];
  for (const [name, url, body, headers, status] of cases) {
    const res = await post(url, body, headers);
    t.equal(res.statusCode, status, `${name}: ${res.statusCode} ${res.body.slice(0, 120)}`);
    t.match(res.json(), { code: /^TEND_E_/, message: String }, `${name}: a coded error`);
    t.notMatch(res.body, /at .*\.ts:\d+/, `${name}: no stack trace`);
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined, "Object.prototype is untouched");
  t.equal((await s.app.inject({ url: "/healthz" })).statusCode, 200);
});

t.test("fuzz: thousands of random and mutated bodies never get a 5xx and the server stays up", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const cred = await s.enroll("web-1");
  let seed = 42;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const junk = (): unknown =>
    pick<() => unknown>([
      () => null,
      () => rand() * 1e9,
      () => -1,
      () => "",
      () => "x".repeat(Math.floor(rand() * 300)),
      // biome-ignore lint/suspicious/noTemplateCurlyInString: template syntax must stay verbatim
      () => "{{ 7*7 }} ${x} <%= 1 %> $(id)",
      () => [],
      () => ({}),
      () => true,
      () => [junk()],
      () => ({ [pick(["a", "id", "node", "__proto__x", "status"])]: junk() }),
    ])();
  const mutate = (value: unknown): unknown => {
    if (value === null || typeof value !== "object") return rand() < 0.5 ? junk() : value;
    const copy: Record<string, unknown> = Array.isArray(value)
      ? ([...value] as never)
      : { ...(value as object) };
    const keys = Object.keys(copy);
    const key = keys.length ? pick(keys) : "k";
    const r = rand();
    if (r < 0.3) delete copy[key];
    else if (r < 0.6) copy[key] = junk();
    else if (r < 0.7) copy[`extra${Math.floor(rand() * 9)}`] = junk();
    else copy[key] = mutate(copy[key]);
    return copy;
  };
  const seeds: Record<string, unknown> = {
    "/api/v1/reports": makeReport("web-1", null),
    "/api/v1/catalog": { facts: facts("web-1") },
    "/api/v1/enroll": { token: "tend_enr_x", node: "web-9" },
    "/api/v1/hooks/git": {},
  };
  const counts: Record<number, number> = {};
  let fiveHundreds = 0;
  for (let i = 0; i < 3000; i++) {
    const url = pick(Object.keys(seeds));
    const body = rand() < 0.2 ? JSON.stringify(junk()) : JSON.stringify(mutate(mutate(seeds[url])));
    const res = await s.app.inject({
      method: "POST",
      url,
      payload: body ?? "null",
      headers: { "content-type": "application/json", ...(url === "/api/v1/hooks/git" ? {} : bearer(cred)) },
    });
    counts[res.statusCode] = (counts[res.statusCode] ?? 0) + 1;
    if (res.statusCode >= 500) {
      fiveHundreds++;
      t.fail(`${url} ${body?.slice(0, 200)} → ${res.statusCode} ${res.body}`);
    }
  }
  t.equal(fiveHundreds, 0, `no 5xx (${JSON.stringify(counts)})`);
  t.equal((await s.app.inject({ url: "/healthz" })).statusCode, 200, "still healthy");
});

t.test("a deeply nested body is refused before it is parsed (TRUST E2), over HTTP", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const cred = await s.enroll("web-1");
  const base = await s.app.listen({ host: "127.0.0.1", port: 0 });
  const post = async (body: string | Buffer, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}/api/v1/catalog`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(cred), ...headers },
      body,
    });
    return { status: res.status, json: (await res.json()) as { code: string; message: string } };
  };
  const refused = { code: "TEND_E_BAD_REQUEST", message: "The body nests deeper than 64 levels." };
  const deep = (n: number) => `{"facts":{"d":${"[".repeat(n)}${"]".repeat(n)}}}`;
  // 600,000 levels in under 4 MiB: the parser would have built all of them.
  const huge = deep(600_000);
  t.ok(huge.length < 4 * 1024 * 1024);
  t.same(await post(huge), { status: 400, json: refused }, "600,000 levels: the same 400 as before");
  t.same(
    await post(gzipSync(huge), { "content-encoding": "gzip" }),
    { status: 400, json: refused },
    "and gzipped",
  );
  // Unclosed and not JSON at all: the parser would say "not acceptable JSON"; the depth is seen first.
  t.same(await post("[".repeat(600_000)), { status: 400, json: refused }, "refused before parsing");
  t.same(await post(deep(63)), { status: 400, json: refused }, "65 levels with the outer object");
  const shallow = await post(deep(62));
  t.equal(shallow.status, 400, "64 levels pass the depth check (the schema refuses this body)");
  t.notMatch(shallow.json.message, /nests deeper/);
  // Brackets in strings, escaped quotes among them, are not nesting.
  const inString = await post(
    JSON.stringify({ facts: { ...facts("web-1"), kernel: `\\"${"[{".repeat(60)}` } }),
  );
  t.equal(inString.status, 200, `brackets inside strings do not count: ${inString.json.message}`);
  t.equal((await fetch(`${base}/healthz`)).status, 200, "the server is up");
});

/**
 * Compressed request bodies (issue 5, TRUST E2): gzip and deflate are accepted, the body limit
 * applies to the decompressed bytes, and a gzip bomb is cut off at the limit with 413 without the
 * server's memory growing with what the bomb would inflate to.
 */
import { deflateSync, gzipSync } from "node:zlib";
import t from "tap";
import { bearer, startTestServer } from "../helpers/server-app.js";
import { facts } from "../helpers/server-git.js";
import { makeReport } from "../helpers/server-report.js";

const limit = 256 * 1024;

t.test("compressed bodies", async (t) => {
  const s = await startTestServer({ config: { limits: { body_bytes: limit } } });
  t.teardown(() => s.close());
  const cred = await s.enroll("web-1");
  const post = (url: string, payload: Buffer, encoding: string) =>
    s.app.inject({
      method: "POST",
      url,
      payload,
      headers: { "content-type": "application/json", "content-encoding": encoding, ...bearer(cred) },
    });

  t.test("gzip and deflate are read like plain JSON", async (t) => {
    const body = JSON.stringify({ facts: facts("web-1") });
    const gz = await post("/api/v1/catalog", gzipSync(body), "gzip");
    t.equal(gz.statusCode, 200, gz.body.slice(0, 200));
    t.ok(gz.json().catalog, "a catalog for a gzipped request");
    const report = makeReport("web-1", null, { count: 50 });
    const df = await post("/api/v1/reports", deflateSync(JSON.stringify(report)), "deflate");
    t.equal(df.statusCode, 201, "a deflated report is stored");
    const stored = await s.app.inject({ url: `/api/v1/reports/${report.id}`, headers: bearer(s.adminToken) });
    t.equal(stored.json().resources.length, 50, "whole");
    const upper = await post("/api/v1/catalog", gzipSync(body), "GZIP");
    t.equal(upper.statusCode, 200, "the coding's name is case-insensitive");
  });

  t.test("the limit applies to the decompressed size", async (t) => {
    const big = JSON.stringify({ ...makeReport("web-1", null), pad: "x".repeat(limit) });
    const packed = gzipSync(big);
    t.ok(packed.length < limit / 10, "small on the wire");
    const res = await post("/api/v1/reports", packed, "gzip");
    t.equal(res.statusCode, 413);
    t.equal(res.json().code, "TEND_E_TOO_LARGE");
  });

  t.test("a gzip bomb: 10 MB inflating to 10 GB is refused with bounded memory", async (t) => {
    // Concatenated gzip members are one valid gzip stream: 100 × (100 MiB of zeros).
    const member = gzipSync(Buffer.alloc(100 * 1024 * 1024), { level: 9 });
    const bomb = Buffer.concat(Array.from({ length: 100 }, () => member));
    t.ok(bomb.length > 9 * 1024 * 1024 && bomb.length < 11 * 1024 * 1024, `${bomb.length} bytes on the wire`);
    global.gc?.();
    const before = process.memoryUsage().rss;
    const res = await post("/api/v1/reports", bomb, "gzip");
    const grown = (process.memoryUsage().rss - before) / (1024 * 1024);
    t.equal(res.statusCode, 413, res.body);
    t.equal(res.json().code, "TEND_E_TOO_LARGE");
    t.ok(grown < 64, `RSS grew by ${grown.toFixed(1)} MiB (the bomb would inflate to 10,000 MiB)`);
    const after = await post("/api/v1/catalog", gzipSync(JSON.stringify({ facts: facts("web-1") })), "gzip");
    t.equal(after.statusCode, 200, "the server still answers");
  });
});

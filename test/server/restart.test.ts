/**
 * What a node was served survives a server restart: the large file contents its catalog left out
 * and the rule that only that node may fetch them are in the database, not in the process.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { request } from "undici";
import { sha256 } from "../../core/hash.js";
import { facts, goodRecipes, TestRepo } from "../helpers/server-git.js";
import { spawnServer, stop, tendServer } from "../helpers/server-process.js";
import { testStorages } from "../helpers/server-storage.js";

async function call(url: string, method: "GET" | "POST", body?: unknown, token?: string) {
  const res = await request(url, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.statusCode, text: await res.body.text() };
}

for (const make of testStorages()) {
  const storage = make();
  t.test(`fetched files and who may fetch them survive a restart (${storage.name})`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "tend-restart-"));
    mkdirSync(join(dir, "data"), { mode: 0o700 });
    const repo = new TestRepo();
    repo.commit(goodRecipes);
    const db =
      storage.name === "sqlite" ? "" : `database: ${storage.database}\ndatabase_schema: ${storage.schema}\n`;
    const config = join(dir, "server.yaml");
    writeFileSync(
      config,
      `listen: 127.0.0.1:0\ndata_dir: ${dir}/data\n${db}log_level: warn\ncatalog:\n  inline_file_bytes: 1024\n` +
        `recipes:\n  repo: ${repo.dir}\n  branch: main\n  poll: 0\n`,
    );
    t.teardown(async () => {
      await storage.cleanup();
      repo.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });
    const token = (await tendServer(["token", "create", "--uses", "2", "--config", config])).stdout.trim();
    const first = await spawnServer(config);
    const enrol = async (node: string) =>
      JSON.parse((await call(`${first.url}/api/v1/enroll`, "POST", { token, node })).text)
        .credential as string;
    const web = await enrol("web-1");
    const other = await enrol("db-1");
    const catalog = JSON.parse(
      (await call(`${first.url}/api/v1/catalog`, "POST", { facts: facts("web-1") }, web)).text,
    );
    const big = `${"x".repeat(5000)}\n`;
    const sha = sha256(big);
    t.same(catalog.catalog.files[sha], { size: big.length }, "the big file is left out of the catalog");
    t.equal((await call(`${first.url}/api/v1/files/${sha}`, "GET", undefined, web)).text, big);
    await stop(first);

    const second = await spawnServer(config);
    t.teardown(() => stop(second));
    const again = await call(`${second.url}/api/v1/files/${sha}`, "GET", undefined, web);
    t.equal(again.status, 200, "the restarted server serves the file before any new catalog request");
    t.equal(again.text, big, "with the same bytes");
    const theirs = await call(`${second.url}/api/v1/files/${sha}`, "GET", undefined, other);
    t.equal(theirs.status, 404, "and still only to the node whose catalog references it");
  });
}

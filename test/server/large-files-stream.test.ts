// Issue 15: a large `source:` file streams end to end. The server hashes it as git streams it, lists
// it in the catalog by size and hash only, keeps only the git blob's name in the database (never its
// bytes) and serves it as a stream from its mirror. The agent streams it to disk, checks it, and
// copies it into place in chunks. Real git, real HTTP on loopback, both databases, the real agent.
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { parseConfig } from "../../agent/config.js";
import { agentRun } from "../../agent/run.js";
import { main } from "../../cli/commands/agent.js";
import { STREAM_FILE_BYTES } from "../../core/repo.js";
import { startTestServer } from "../helpers/server-app.js";
import { facts, TestRepo } from "../helpers/server-git.js";
import { testStorages } from "../helpers/server-storage.js";

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

for (const make of testStorages()) {
  const storage = make();
  t.test(`a large source file streams from git to the managed path (${storage.name})`, async (t) => {
    const root = mkdtempSync(join(tmpdir(), "tend-stream-"));
    const target = join(root, "target");
    const repo = new TestRepo();
    // 3 MiB of random bytes (not valid UTF-8): over the streaming threshold, so never inline.
    const big = randomBytes(3 * 1024 * 1024);
    const medium = `${"medium line\n".repeat(400)}`; // 4.8 KB: over inline_file_bytes, under streaming
    t.ok(big.length > STREAM_FILE_BYTES && medium.length < STREAM_FILE_BYTES);
    mkdirSync(join(repo.dir, "base/files"), { recursive: true });
    writeFileSync(join(repo.dir, "base/files/big.bin"), big);
    repo.commit({
      "nodes.yaml": '- name: "*"\n  recipes: [base]\n',
      "base/recipe.yaml": [
        "description: base",
        "resources:",
        `  - file: ${target}`,
        "    ensure: directory",
        `  - file: ${target}/big.bin`,
        "    source: files/big.bin",
        `  - file: ${target}/medium.txt`,
        "    source: files/medium.txt",
        "",
      ].join("\n"),
      "base/files/medium.txt": medium,
    });
    const server = await startTestServer({ storage, repo });
    t.teardown(async () => {
      await server.close();
      repo.cleanup();
      rmSync(root, { recursive: true, force: true });
    });
    await server.app.listen({ port: 0, host: "127.0.0.1" });
    const url = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
    const stateDir = join(root, "state");
    const configFile = join(root, "agent.yaml");
    const node = "stream-1";
    const enrolled = await main([
      "enroll",
      "--server",
      url,
      "--token",
      await server.enrollToken(),
      "--node",
      node,
      "--config",
      configFile,
      "--state-dir",
      stateDir,
    ]);
    t.equal(enrolled, 0, "enrolled");
    const config = parseConfig(
      JSON.stringify({ server: url, node, state_dir: stateDir, splay: 0 }),
      "agent.yaml",
    );
    const quiet = { facts: facts(node) as never, http: { attempts: 1 } };

    const first = await agentRun(config, quiet);
    t.equal(first.report.status, "changed", JSON.stringify(first.report.resources.filter((r) => r.error)));
    t.ok(readFileSync(join(target, "big.bin")).equals(big), "the large file landed byte for byte");
    t.equal(readFileSync(join(target, "medium.txt"), "utf8"), medium, "the medium one too");

    const bigSha = sha256(big);
    const cached = JSON.parse(readFileSync(join(stateDir, "catalog.json"), "utf8")) as {
      envelope: { catalog: { files: Record<string, { size: number; text?: string; base64?: string }> } };
    };
    t.same(
      cached.envelope.catalog.files[bigSha],
      { size: big.length },
      "the catalog lists it by size and hash only",
    );

    const stored = await server.storage.nodeFile(node, bigSha);
    t.ok(stored && "gitBlob" in stored, "the database names the git blob, it does not hold the bytes");
    t.equal(
      stored && "gitBlob" in stored ? stored.gitBlob : "",
      repo.git("rev-parse", "HEAD:base/files/big.bin"),
    );
    const mediumStored = await server.storage.nodeFile(node, sha256(Buffer.from(medium)));
    t.ok(mediumStored && "data" in mediumStored, "a medium file is kept in the database, as before");

    // Over real HTTP with the node's credential: the bytes, with their length announced up front.
    const identity = JSON.parse(readFileSync(join(stateDir, "identity.json"), "utf8")) as {
      credential: string;
    };
    const res = await fetch(`${url}/api/v1/files/${bigSha}`, {
      headers: { authorization: `Bearer ${identity.credential}` },
    });
    t.equal(res.status, 200);
    t.equal(res.headers.get("content-length"), String(big.length));
    t.equal(res.headers.get("x-content-sha256"), bigSha);
    t.ok(Buffer.from(await res.arrayBuffer()).equals(big), "served from git byte for byte");

    // Unchanged: nothing to do.
    const again = await agentRun(config, quiet);
    t.equal(again.report.status, "unchanged");

    // Drift on a large file: the plan names it without holding a diff of megabytes...
    writeFileSync(join(target, "big.bin"), randomBytes(2 * 1024 * 1024));
    const plan = await agentRun(config, { ...quiet, noop: true });
    const planned = plan.report.resources.find((r) => r.id === `file:${target}/big.bin`);
    t.equal(planned?.status, "would-change");
    t.match(planned?.diff, /content differs \(2097152 → 3145728 bytes; too large to diff\)/);

    // ...and the kept download, torn on disk, is not used: fetched again and the file repaired.
    const kept = join(stateDir, "files", bigSha);
    writeFileSync(kept, Buffer.alloc(big.length, 1));
    const repaired = await agentRun(config, quiet);
    t.equal(
      repaired.report.status,
      "changed",
      JSON.stringify(repaired.report.resources.filter((r) => r.error)),
    );
    t.ok(readFileSync(join(target, "big.bin")).equals(big), "repaired byte for byte");
    t.equal(sha256(readFileSync(kept)), bigSha, "the kept copy is whole again");
  });
}

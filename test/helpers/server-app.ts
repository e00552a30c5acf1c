/**
 * An in-process server on a real git repository and a real storage, for `inject()` tests: with an
 * admin token, helpers to mint enrolment tokens and enrol nodes, and one `close()`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type App, buildApp, connectGate } from "../../server/app.js";
import { type CompilerFns, coreCompiler } from "../../server/compiler.js";
import { loadConfig } from "../../server/config.js";
import { GitGate } from "../../server/git/gate.js";
import { GitMirror } from "../../server/git/mirror.js";
import { hashSecret, newSecret } from "../../server/identity.js";
import { loadSigningKey } from "../../server/signing.js";
import type { Storage } from "../../server/storage/types.js";
import { goodRecipes, TestRepo } from "./server-git.js";
import { sqliteStorage, type TestStorage } from "./server-storage.js";

export interface TestServer extends App {
  storage: Storage;
  repo: TestRepo;
  gate: GitGate;
  adminToken: string;
  dataDir: string;
  enrollToken(opts?: {
    uses?: number | null;
    ttlMs?: number;
    glob?: string;
    reenroll?: boolean;
  }): Promise<string>;
  /** Enrols `node` with a fresh token; returns its credential. */
  enroll(node: string): Promise<string>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  storage?: TestStorage;
  recipes?: Record<string, string> | null;
  config?: Record<string, unknown>;
  compiler?: CompilerFns;
  /** Reuse this repository (and do not delete it on close). */
  repo?: TestRepo;
  /** The server's request and connection timeouts (30 s). */
  timeoutMs?: number;
}

export async function startTestServer(o: TestServerOptions = {}): Promise<TestServer> {
  const ts = o.storage ?? sqliteStorage();
  const storage = await ts.open();
  const repo = o.repo ?? new TestRepo();
  if (!o.repo && o.recipes !== null) repo.commit(o.recipes ?? goodRecipes, "good recipes");
  const dataDir = mkdtempSync(join(tmpdir(), "tend-server-"));
  const config = loadConfig(undefined, {
    data_dir: dataDir,
    recipes: { repo: repo.dir, branch: "main", poll: "0" },
    catalog: { inline_file_bytes: 1024 },
    limits: { enroll_burst: 100_000, enroll_per_minute: 1_000_000 },
    ...o.config,
  });
  const compiler = o.compiler ?? (await coreCompiler());
  const key = loadSigningKey(dataDir);
  const built = await buildApp({ config, storage, key, compiler, timeoutMs: o.timeoutMs });
  const mirror = new GitMirror(join(dataDir, "recipes.git"), repo.dir, "main");
  const gate = new GitGate(mirror, config.recipes?.path ?? "", storage, compiler, built.app.log);
  connectGate(built.deps, gate);
  if (o.recipes !== null) await gate.refresh();
  const adminToken = newSecret("admin");
  await storage.createToken({
    hash: hashSecret(adminToken),
    kind: "admin",
    created_at: Date.now(),
    expires_at: null,
    uses_left: null,
    node_glob: null,
    reenroll: false,
  });
  const enrollToken: TestServer["enrollToken"] = async (t = {}) => {
    const token = newSecret("enroll");
    await storage.createToken({
      hash: hashSecret(token),
      kind: "enroll",
      created_at: Date.now(),
      expires_at: Date.now() + (t.ttlMs ?? 3_600_000),
      uses_left: t.uses === undefined ? 1 : t.uses,
      node_glob: t.glob ?? null,
      reenroll: t.reenroll ?? false,
    });
    return token;
  };
  return {
    ...built,
    storage,
    repo,
    gate,
    adminToken,
    dataDir,
    enrollToken,
    async enroll(node) {
      const res = await built.app.inject({
        method: "POST",
        url: "/api/v1/enroll",
        payload: { token: await enrollToken(), node },
      });
      if (res.statusCode !== 200) throw new Error(`enrol ${node}: ${res.statusCode} ${res.body}`);
      return res.json().credential as string;
    },
    async close() {
      await built.app.close();
      await storage.close();
      await ts.cleanup();
      if (!o.repo) repo.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

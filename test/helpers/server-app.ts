/**
 * An in-process server on a real git repository and a real storage, for `inject()` tests: with an
 * admin token, helpers to mint enrolment tokens and enrol nodes, and one `close()`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSinks } from "../../server/alerts/sinks.js";
import { type App, type AppOptions, buildApp, connectGate } from "../../server/app.js";
import { type CompilerFns, coreCompiler } from "../../server/compiler.js";
import { loadConfig } from "../../server/config.js";
import { GitGate } from "../../server/git/gate.js";
import { GitMirror } from "../../server/git/mirror.js";
import { hashSecret, newSecret } from "../../server/identity.js";
import { hashPassword } from "../../server/passwords.js";
import type { Role } from "../../server/roles.js";
import type { Rollouts, Signals } from "../../server/signals.js";
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
  /** A new admin token with this role. */
  tokenFor(role: Role): Promise<string>;
  /** A new account (its password is `${name}-password-1`); returns the password. */
  addUser(name: string, role: Role): Promise<string>;
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
  /** The app's clock (reports' arrival, alert conditions, the sweeper). */
  now?: () => number;
  alertWorker?: AppOptions["alertWorker"];
  /** The server's request and connection timeouts (30 s). */
  timeoutMs?: number;
  logger?: AppOptions["logger"];
  /** A stand-in for the push channel's signals (null: none), and for rollouts (server/signals.ts). */
  signals?: Signals | null;
  rollouts?: Rollouts;
  rolloutTickMs?: number;
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
  const built = await buildApp({
    config,
    storage,
    key,
    compiler,
    logger: o.logger,
    timeoutMs: o.timeoutMs,
    signals: o.signals,
    rollouts: o.rollouts,
    rolloutTickMs: o.rolloutTickMs,
    now: o.now,
    sinks: loadSinks(config.alerts),
    alertWorker: o.alertWorker,
  });
  const mirror = new GitMirror(
    join(dataDir, "recipes.git"),
    repo.dir,
    config.recipes?.branch ?? "main",
    config.maxFileBytes,
  );
  const gate = new GitGate(
    mirror,
    config.recipes?.path ?? "",
    storage,
    compiler,
    built.app.log,
    config.recipes?.branches,
  );
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
  const tokenFor = async (role: Role) => {
    const token = newSecret("admin");
    await storage.createToken({
      hash: hashSecret(token),
      kind: "admin",
      created_at: Date.now(),
      expires_at: null,
      uses_left: null,
      node_glob: null,
      reenroll: false,
      role,
    });
    return token;
  };
  const addUser = async (name: string, role: Role) => {
    const password = `${name}-password-1`;
    const now = Date.now();
    const password_hash = await hashPassword(password);
    await storage.createUser({ name, role, password_hash, created_at: now, changed_at: now });
    return password;
  };
  return {
    ...built,
    storage,
    repo,
    gate,
    adminToken,
    dataDir,
    enrollToken,
    tokenFor,
    addUser,
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
      await built.deps.alerts.stop();
      await built.app.close();
      await storage.close();
      await ts.cleanup();
      if (!o.repo) repo.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

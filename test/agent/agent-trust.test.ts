/**
 * The agent's trust boundary against a real `tend server` process over 127.0.0.1 (TRUST A6, A9, E5,
 * F2): enrolment refuses plain HTTP to another host and a server key other than the one pinned out
 * of band; a catalog it refuses (tampered, replayed older serial, over the size cap) applies nothing
 * and the server receives a failed report naming why; files fetched by hash are capped at the size
 * the signed catalog lists and checked against their sha256.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { keyFingerprint } from "../../agent/client/identity.js";
import { parseConfig } from "../../agent/config.js";
import { agentRun, CatalogRefusedError } from "../../agent/run.js";
import { main } from "../../cli/commands/agent.js";
import { isLoopback } from "../../cli/commands/agent-enroll.js";
import { isTendError } from "../../core/errors.js";
import { keyCommand } from "../../server/admin/key.js";
import { readSigningKey } from "../../server/key-info.js";
import { agentRecipes, BIG, testFacts } from "../helpers/agent-env.js";
import { TestRepo } from "../helpers/server-git.js";
import { callJson, spawnServer, stop, tendServer } from "../helpers/server-process.js";

const root = mkdtempSync(join(tmpdir(), "tend-trust-"));
const target = join(root, "target");
const repo = new TestRepo();
repo.commit(agentRecipes(target), "v1");
const serverConfig = join(root, "server.yaml");
const dataDir = join(root, "data");
writeFileSync(
  serverConfig,
  `listen: 127.0.0.1:0\ndata_dir: ${dataDir}\nlog_level: warn\ncatalog:\n  inline_file_bytes: 1024\nrecipes:\n  repo: ${repo.dir}\n  branch: main\n  poll: 0\n`,
);
const server = await spawnServer(serverConfig);
t.teardown(async () => {
  await stop(server);
  repo.cleanup();
  rmSync(root, { recursive: true, force: true });
});
const admin = (await tendServer(["token", "create", "--admin", "--config", serverConfig])).stdout.trim();
const token = (await tendServer(["token", "create", "--uses", "10", "--config", serverConfig])).stdout.trim();
const adminGet = async (path: string) => {
  const r = await callJson(`${server.url}${path}`, "GET", undefined, admin);
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
};
const serverKey = readSigningKey(dataDir);
const fingerprint = keyFingerprint(serverKey.publicKeyPem);

/** An agent's own files: its agent.yaml and state dir under `root/name`. */
function agentDirs(name: string) {
  const dir = join(root, name);
  return { configFile: join(dir, "agent.yaml"), stateDir: join(dir, "state") };
}
const enrolArgs = (name: string, server: string, ...extra: string[]) => {
  const { configFile, stateDir } = agentDirs(name);
  return [
    "enroll",
    "--server",
    server,
    "--token",
    token,
    "--node",
    name,
    "--config",
    configFile,
    "--state-dir",
    stateDir,
    ...extra,
  ];
};

t.test("tend server key prints the fingerprint the agent compares", async (t) => {
  let out = "";
  t.equal(
    keyCommand(["--config", serverConfig], (s) => (out += s)),
    0,
  );
  t.match(out, new RegExp(`^${fingerprint}\nkey_id ${serverKey.keyId}\n$`));
  let pem = "";
  keyCommand(["--config", serverConfig, "--pem"], (s) => (pem += s));
  t.equal(pem, serverKey.publicKeyPem);
});

t.test("enrolment refuses plain HTTP to another host before any connection (A6)", async (t) => {
  for (const extra of [[], ["--server-key", fingerprint]]) {
    const started = Date.now();
    await t.rejects(main(enrolArgs("far-1", "http://192.0.2.1:7420", ...extra)), {
      code: "TEND_E_AGENT_ENROLL",
      message:
        /refusing to enrol over plain HTTP with 192\.0\.2\.1:7420.*https:\/\/.*--server-key.*--insecure-http/s,
    });
    // 192.0.2.1 (TEST-NET-1) answers nothing: a connection attempt would take the 30 s connect timeout.
    t.ok(Date.now() - started < 3000, "refused without trying to connect");
    t.notOk(existsSync(join(agentDirs("far-1").stateDir, "identity.json")));
  }
});

t.test("which hosts count as this box", async (t) => {
  for (const h of ["localhost", "127.0.0.1", "127.1.2.3", "[::1]", "LOCALHOST"]) t.ok(isLoopback(h), h);
  for (const h of ["192.0.2.1", "10.0.0.1", "localhost.example.com", "127.0.0.1.nip.io", "[::2]", "0.0.0.0"])
    t.notOk(isLoopback(h), h);
});

t.test("a malformed --server-key is refused before anything is sent", async (t) => {
  await t.rejects(main(enrolArgs("bad-key", server.url, "--server-key", serverKey.keyId)), {
    code: "TEND_E_USAGE",
    message: /too short: give the whole fingerprint/,
  });
  await t.rejects(main(enrolArgs("bad-key", server.url, "--server-key", join(root, "no-such.pem"))), {
    code: "TEND_E_USAGE",
  });
});

t.test("a server key other than --server-key is refused, naming both (A9)", async (t) => {
  const wrong = `sha256:${"ab".repeat(32)}`;
  await t.rejects(main(enrolArgs("mitm-1", server.url, "--server-key", wrong)), {
    code: "TEND_E_AGENT_ENROLL",
    message: new RegExp(`presented server key ${fingerprint}, not ${wrong}.*nothing saved`, "s"),
  });
  t.notOk(existsSync(join(agentDirs("mitm-1").stateDir, "identity.json")), "nothing pinned");
  t.notOk(existsSync(agentDirs("mitm-1").configFile), "no configuration written");
});

let agentConfigFile = "";
let agentStateDir = "";

t.test("loopback HTTP needs no flag; the key given as a PEM file is pinned", async (t) => {
  const pemFile = join(root, "server-key.pem");
  writeFileSync(pemFile, serverKey.publicKeyPem);
  t.equal(await main(enrolArgs("agent-1", server.url, "--server-key", pemFile)), 0);
  ({ configFile: agentConfigFile, stateDir: agentStateDir } = agentDirs("agent-1"));
  const id = JSON.parse(readFileSync(join(agentStateDir, "identity.json"), "utf8"));
  t.equal(id.server_key, serverKey.publicKeyPem);
  // Already enrolled: the same key is fine, another is refused.
  t.equal(await main(enrolArgs("agent-1", server.url, "--server-key", fingerprint)), 0);
  await t.rejects(main(enrolArgs("agent-1", server.url, "--server-key", `sha256:${"0".repeat(64)}`)), {
    code: "TEND_E_AGENT_ENROLL",
    message: new RegExp(`pinned is ${fingerprint}, not sha256:0{64}`),
  });
  // Without --server-key, loopback HTTP enrols too (trust on first use, the key printed).
  t.equal(await main(enrolArgs("agent-2", `http://localhost:${new URL(server.url).port}`)), 0);
});

// A man in the middle between the agent and the server: passes everything through, or changes the
// catalog and file replies as `mode` says.
type Mode = "pass" | "tamper" | "replay" | "huge" | "bigfile" | "badfile";
let mode: Mode = "pass";
let recorded: Uint8Array | null = null;
const proxy = createServer(async (req: IncomingMessage, res: ServerResponse) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const isCatalog = req.url === "/api/v1/catalog";
  const isFile = req.url?.startsWith("/api/v1/files/") ?? false;
  if (isCatalog && mode === "huge") {
    // Chunked, no Content-Length: the agent must count as the bytes arrive.
    res.writeHead(200, { "content-type": "application/json" });
    const block = Buffer.alloc(1024 * 1024, 0x20);
    let closed = false;
    const gone = new Promise<void>((r) => res.once("close", () => r()));
    void gone.then(() => (closed = true));
    for (let i = 0; i < 80 && !closed; i++) {
      if (!res.write(block)) await Promise.race([new Promise((r) => res.once("drain", r)), gone]);
    }
    res.end();
    return;
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (typeof v === "string" && k !== "host" && k !== "content-length") headers[k] = v;
  }
  if (isCatalog && mode === "replay") delete headers["if-none-match"];
  const up = await fetch(`${server.url}${req.url}`, {
    method: req.method,
    headers,
    body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
  });
  let body: Uint8Array = Buffer.from(await up.arrayBuffer());
  if (isCatalog && up.status === 200) {
    if (mode === "pass") recorded ??= body;
    if (mode === "tamper") {
      const envelope = JSON.parse(body.toString());
      envelope.catalog.resources[1].params.content = "evil\n";
      body = Buffer.from(JSON.stringify(envelope));
    }
    if (mode === "replay" && recorded) body = recorded;
  }
  if (isFile && up.status === 200 && mode === "bigfile") body = Buffer.concat([body, Buffer.from("more\n")]);
  if (isFile && up.status === 200 && mode === "badfile") body = Buffer.from("X".repeat(body.length));
  const out: Record<string, string> = {};
  up.headers.forEach((v, k) => {
    if (k !== "content-length" && k !== "content-encoding" && k !== "transfer-encoding") out[k] = v;
  });
  res.writeHead(up.status, out);
  res.end(body);
});
await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
t.teardown(() => proxy.close());
const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

const config = () =>
  parseConfig(
    JSON.stringify({ server: proxyUrl, node: "agent-1", state_dir: agentStateDir, splay: 0 }),
    "agent.yaml",
  );
const quiet = { facts: testFacts("agent-1"), http: { attempts: 1 } };
const refusal = async (run: Promise<unknown>): Promise<CatalogRefusedError> => {
  try {
    await run;
  } catch (err) {
    if (err instanceof CatalogRefusedError) return err;
    throw err;
  }
  throw new Error("the run was not refused");
};
/** The stored report, which must be a failed one naming `code` and nothing of the refused catalog. */
const storedFailure = async (t: Test, err: CatalogRefusedError, code: string) => {
  t.equal(err.code, code);
  t.same(err.flush, { sent: 1, rejected: 0, left: 0 }, "the failed report was delivered");
  t.match(err.message, /nothing was applied; reported to the server as failed run/);
  const stored = (await adminGet(`/api/v1/reports/${err.report.id}`)) as Record<string, unknown>;
  t.equal(stored.status, "failed");
  t.equal(stored.node, "agent-1");
  t.equal(stored.commit, null);
  t.same(stored.resources, []);
  t.match(String(stored.error), new RegExp(`\\[${code}\\]; nothing was applied$`));
  t.notMatch(JSON.stringify(stored), /evil|hello from tend|big line/, "nothing of the catalog in the report");
  const list = (await adminGet("/api/v1/nodes/agent-1/reports?limit=50")) as { id: string; status: string }[];
  t.equal(list.find((r) => r.id === err.report.id)?.status, "failed", "listed among the node's reports");
};

t.test("a tampered catalog applies nothing; the server gets a failed report (A9)", async (t) => {
  mode = "tamper";
  const err = await refusal(agentRun(config(), quiet));
  t.notOk(existsSync(target), "nothing applied");
  await storedFailure(t, err, "TEND_E_CATALOG_SIGNATURE");
  t.match(err.report.error, /does not verify against the server key pinned at enrolment/);
});

t.test("the CLI prints the failed report and exits 1 through its error (--json)", async (t) => {
  mode = "tamper";
  const proxyConfig = join(root, "agent-proxy.yaml");
  writeFileSync(
    proxyConfig,
    readFileSync(agentConfigFile, "utf8").replace(/^server: .*$/m, `server: "${proxyUrl}"`),
  );
  const write = process.stdout.write;
  let out = "";
  process.stdout.write = ((chunk: string) => {
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  let caught: unknown;
  try {
    await main(["run", "--json", "--config", proxyConfig]);
  } catch (err) {
    caught = err;
  } finally {
    process.stdout.write = write;
  }
  t.ok(isTendError(caught) && caught.code === "TEND_E_CATALOG_SIGNATURE" && caught.exitCode === 1);
  const printed = JSON.parse(out);
  t.equal(printed.status, "failed");
  t.equal((await adminGet(`/api/v1/reports/${printed.id}`)).status, "failed");
  t.notOk(existsSync(target));
});

t.test("an older, validly signed catalog replayed by a man in the middle is refused (F2)", async (t) => {
  mode = "pass";
  const first = await agentRun(config(), quiet);
  t.equal(first.report.status, "changed");
  t.ok(recorded, "the proxy kept the catalog of serial 1");
  repo.commit(agentRecipes(target, "version two\n"), "v2");
  t.equal((await callJson(`${server.url}/api/v1/hooks/git`, "POST", {}, admin)).status < 300, true);
  const second = await agentRun(config(), quiet);
  t.equal(readFileSync(join(target, "motd"), "utf8"), "version two\n");
  t.equal(second.report.status, "changed");
  writeFileSync(join(target, "motd"), "edited by hand\n");
  mode = "replay";
  const err = await refusal(agentRun(config(), quiet));
  t.equal(readFileSync(join(target, "motd"), "utf8"), "edited by hand\n", "nothing applied");
  await storedFailure(t, err, "TEND_E_CATALOG_ROLLBACK");
  t.match(err.report.error, /older than serial \d+ already applied/);
  mode = "pass";
  const back = await agentRun(config(), quiet);
  t.equal(back.report.status, "changed", "the current catalog is applied again");
});

t.test("a catalog over 64 MiB is refused as it arrives (E5)", async (t) => {
  mode = "huge";
  writeFileSync(join(target, "motd"), "edited by hand\n");
  const rss = process.memoryUsage().rss;
  const err = await refusal(agentRun(config(), { ...quiet, http: { attempts: 1 } }));
  t.ok(process.memoryUsage().rss - rss < 200 * 1024 * 1024, "not read past the cap");
  await storedFailure(t, err, "TEND_E_CATALOG");
  t.match(err.message, /catalog reply is larger than the agent's cap of 64 MiB; refused/);
  t.equal(readFileSync(join(target, "motd"), "utf8"), "edited by hand\n");
  mode = "pass";
});

t.test("files by hash: more bytes than the catalog lists, or the wrong bytes, are refused", async (t) => {
  const filesDir = join(agentStateDir, "files");
  const reset = () => {
    rmSync(filesDir, { recursive: true, force: true });
    rmSync(join(target, "big.txt"), { force: true });
  };
  for (const [m, why] of [
    ["bigfile", /more than 3600 bytes \(the size the catalog lists for it\)/],
    ["badfile", /does not match its sha256/],
  ] as const) {
    reset();
    mode = m;
    const { report } = await agentRun(config(), quiet);
    const big = report.resources.find((r) => r.id.endsWith("big.txt"));
    t.equal(big?.status, "failed", m);
    t.match(big?.error, why, m);
    t.notOk(existsSync(join(target, "big.txt")), `${m}: not written`);
    t.same(readdirSync(filesDir), [], `${m}: no file kept, no temp file left`);
  }
  reset();
  mode = "pass";
  const { report } = await agentRun(config(), quiet);
  t.equal(report.resources.find((r) => r.id.endsWith("big.txt"))?.status, "changed");
  t.equal(readFileSync(join(target, "big.txt"), "utf8"), BIG);
  t.equal(readdirSync(filesDir).length, 1, "kept by hash for cached runs");
});

/**
 * What a bare box downloads to join (server/routes/agent-bundle.ts): the bundle, its sha256, the
 * server's signature of it and the public key that checks it; and install.sh's own verifier, run
 * here on what the server serves, with the right pin, a wrong one and a swapped bundle.
 */
import { spawnSync } from "node:child_process";
import { createHash, generateKeyPairSync, sign, verify } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { keyFingerprint } from "../../server/key-info.js";
import { bundleMessage } from "../../server/routes/agent-bundle.js";
import { startTestServer } from "../helpers/server-app.js";

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

/** The node script install.sh writes to verify.cjs, taken from install.sh itself. */
function installVerifier(): string {
  const sh = readFileSync(join(process.cwd(), "install.sh"), "utf8");
  const m = /<<'VERIFY_JS'\n([\s\S]*?)\nVERIFY_JS\n/.exec(sh);
  if (!m) throw new Error("install.sh has no VERIFY_JS heredoc");
  return `${m[1]}\n`;
}

async function setup(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), "tend-bundle-test-"));
  const bundle = join(dir, "tend-agent.js");
  writeFileSync(bundle, 'console.log("the agent");\n');
  const before = process.env.TEND_AGENT_BUNDLE;
  process.env.TEND_AGENT_BUNDLE = bundle;
  const s = await startTestServer({ recipes: null });
  t.teardown(async () => {
    await s.close();
    if (before === undefined) delete process.env.TEND_AGENT_BUNDLE;
    else process.env.TEND_AGENT_BUNDLE = before;
    rmSync(dir, { recursive: true, force: true });
  });
  const get = async (url: string) => {
    const res = await s.app.inject({ url });
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
    return res;
  };
  return { s, dir, bundle, get };
}

t.test("the bundle's signature verifies with the server's key, and a changed bundle does not", async (t) => {
  const { s, bundle, get } = await setup(t);
  const data = (await get("/agent/tend-agent.js")).rawPayload;
  const digest = (await get("/agent/tend-agent.js.sha256")).body.split(" ")[0]!;
  t.equal(digest, sha256(data));
  const sigRes = await get("/agent/tend-agent.js.sig");
  t.equal(sigRes.headers["x-content-sha256"], digest);
  const signature = Buffer.from(sigRes.body.trim(), "base64");
  const pem = (await get("/agent/server-key.pem")).body;
  t.equal(pem, s.deps.key.publicKeyPem, "the key served is the signing key");
  t.equal(keyFingerprint(pem), keyFingerprint(s.deps.key.publicKeyPem), "what `tend server key` prints");
  t.equal(bundleMessage(digest).toString("ascii"), `tend-agent.js sha256:${digest}`);
  t.ok(verify(null, bundleMessage(digest), pem, signature), "verifies");
  const tampered = Buffer.from(data);
  tampered[0] = tampered[0]! ^ 1;
  t.notOk(verify(null, bundleMessage(sha256(tampered)), pem, signature), "a changed bundle fails");
  t.notOk(verify(null, data, pem, signature), "the signature is of the named digest, not the raw bytes");

  writeFileSync(bundle, 'console.log("a new agent");\n');
  const next = (await get("/agent/tend-agent.js.sig")).body.trim();
  t.not(next, sigRes.body.trim(), "a rebuilt bundle gets a new signature");
  t.ok(verify(null, bundleMessage(sha256(readFileSync(bundle))), pem, Buffer.from(next, "base64")));
});

t.test("no bundle: no signature either", async (t) => {
  const { s, bundle } = await setup(t);
  rmSync(bundle);
  const res = await s.app.inject({ url: "/agent/tend-agent.js.sig" });
  t.equal(res.statusCode, 404);
  t.match(res.json(), { code: "TEND_E_HTTP_NOT_FOUND" });
});

t.test("install.sh's verifier, on what the server serves", async (t) => {
  const { s, dir, get } = await setup(t);
  const files = {
    script: join(dir, "verify.cjs"),
    key: join(dir, "server-key.pem"),
    bundle: join(dir, "downloaded.js"),
    sig: join(dir, "sig"),
    pemPin: join(dir, "pinned.pem"),
  };
  writeFileSync(files.script, installVerifier());
  const served = async () => {
    writeFileSync(files.key, (await get("/agent/server-key.pem")).body);
    writeFileSync(files.bundle, (await get("/agent/tend-agent.js")).rawPayload);
    writeFileSync(files.sig, (await get("/agent/tend-agent.js.sig")).body);
  };
  const run = (pin: string) => {
    const r = spawnSync(process.execPath, [files.script, pin, files.key, files.bundle, files.sig], {
      encoding: "utf8",
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const fp = keyFingerprint(s.deps.key.publicKeyPem);
  await served();

  const ok = run(fp);
  t.equal(ok.code, 0, ok.err);
  t.match(ok.out, `signed by ${fp}`);
  t.equal(run(fp.slice("sha256:".length).toUpperCase()).code, 0, "the prefix and case do not matter");
  writeFileSync(files.pemPin, s.deps.key.publicKeyPem);
  t.equal(run(files.pemPin).code, 0, "a PEM file pins the key too");

  const wrong = `sha256:${"0".repeat(64)}`;
  const refused = run(wrong);
  t.equal(refused.code, 1);
  t.match(refused.err, `the server presented signing key ${fp}, not ${wrong} as --server-key says`);
  t.notMatch(refused.err, /\n\s+at /, "a sentence, not a stack trace");
  t.match(run("a1b2c3d4e5f60718").err, /is neither/, "a key id is not a pin");

  const goodSig = readFileSync(files.sig);
  writeFileSync(files.sig, "\n");
  t.match(
    run(fp).err,
    /^the agent bundle \(sha256 [0-9a-f]{64}\) is not signed by the pinned key/,
    "an empty signature",
  );
  writeFileSync(files.sig, goodSig);

  const original = readFileSync(files.bundle);
  writeFileSync(files.bundle, Buffer.concat([original, Buffer.from("\nrequire('child_process');\n")]));
  const swapped = run(fp);
  t.equal(swapped.code, 1);
  t.match(swapped.err, /is not signed by the pinned key/);

  // Someone on the path serves their own bundle, signed with their own key, and that key: its
  // signature is good, but it is not the pinned key.
  const theirs = generateKeyPairSync("ed25519");
  writeFileSync(files.key, theirs.publicKey.export({ type: "spki", format: "pem" }));
  writeFileSync(
    files.sig,
    sign(null, bundleMessage(sha256(readFileSync(files.bundle))), theirs.privateKey).toString("base64"),
  );
  const impostor = run(fp);
  t.equal(impostor.code, 1);
  t.match(impostor.err, /not sha256:[0-9a-f]{64} as --server-key says/);
});

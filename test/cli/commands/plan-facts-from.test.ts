/**
 * Issue 13, part 5: `tend plan DIR --node NAME --facts-from SERVER` compiles a working copy with the
 * facts the server last had from NAME (a real server on 127.0.0.1, a real `tend` process), with an
 * admin token of the viewer role in TEND_ADMIN_TOKEN; clear errors when it cannot.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { repoRoot } from "../../helpers/cli.js";
import { bearer, startTestServer } from "../../helpers/server-app.js";
import { facts } from "../../helpers/server-git.js";

function tend(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", `${repoRoot}cli/main.ts`, ...args],
      { cwd: repoRoot, env: { ...process.env, TEND_ADMIN_TOKEN: "", ...env }, timeout: 120_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

t.test("plan a working copy against a node's last reported facts", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "tend-plan-facts-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const s = await startTestServer();
  t.teardown(() => s.close());
  await s.app.listen({ port: 0, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`;
  const cred = await s.enroll("web-7");
  const reported = { ...facts("web-7"), fqdn: "web-7.prod.example.com", cpus: 64 };
  const pulled = await s.app.inject({
    method: "POST",
    url: "/api/v1/catalog",
    headers: bearer(cred),
    payload: { facts: reported },
  });
  t.equal(pulled.statusCode, 200);

  // A working copy whose template reads the node's facts.
  const dir = join(root, "recipes");
  const target = join(root, "target");
  mkdirSync(join(dir, "base", "templates"), { recursive: true });
  writeFileSync(join(dir, "nodes.yaml"), '- name: "web-*"\n  recipes: [base]\n');
  writeFileSync(
    join(dir, "base", "recipe.yaml"),
    `description: base\nresources:\n  - file: ${target}\n    ensure: directory\n  - file: ${target}/motd\n    template: motd.liquid\n`,
  );
  writeFileSync(
    join(dir, "base", "templates", "motd.liquid"),
    "{{ node }} is {{ facts.fqdn }} with {{ facts.cpus }} cpus\n",
  );
  const viewer = await s.tokenFor("viewer");
  const state = join(root, "state");

  const plan = await tend(["plan", dir, "--node", "web-7", "--facts-from", url, "--state-dir", state], {
    TEND_ADMIN_TOKEN: viewer,
  });
  t.equal(plan.code, 2, plan.stderr);
  t.match(
    plan.stdout,
    `planning ${dir} for web-7 (now in environment main) with its facts from ${url}; live state read on this box`,
  );
  t.match(
    plan.stdout,
    "+web-7 is web-7.prod.example.com with 64 cpus",
    "the diff renders the node's own facts",
  );
  t.match(plan.stdout, /1 would change, 1 unknown/);

  const json = await tend(
    ["plan", dir, "--node", "web-7", "--facts-from", url, "--state-dir", state, "--json"],
    { TEND_ADMIN_TOKEN: viewer },
  );
  t.equal(JSON.parse(json.stdout).mode, "noop", "--json prints the report alone");

  const tokenFile = join(root, "token");
  writeFileSync(tokenFile, `${viewer}\n`, { mode: 0o600 });
  t.equal(
    (
      await tend([
        "plan",
        dir,
        "--node",
        "web-7",
        "--facts-from",
        url,
        "--token-file",
        tokenFile,
        "--state-dir",
        state,
      ])
    ).code,
    2,
  );

  const noToken = await tend(["plan", dir, "--node", "web-7", "--facts-from", url]);
  t.equal(noToken.code, 1);
  t.match(
    noToken.stderr,
    /--facts-from needs an admin token \(the viewer role is enough\): set TEND_ADMIN_TOKEN/,
  );
  const wrong = await tend(["plan", dir, "--node", "web-7", "--facts-from", url], {
    TEND_ADMIN_TOKEN: "tend_adm_nope",
  });
  t.match(wrong.stderr, /refused the admin token \(401\)/);
  const nodeToken = await tend(["plan", dir, "--node", "web-7", "--facts-from", url], {
    TEND_ADMIN_TOKEN: cred,
  });
  t.match(
    nodeToken.stderr,
    /refused the admin token \(40[13]\)/,
    "a node credential is not an admin token (TRUST B4)",
  );
  const unknown = await tend(["plan", dir, "--node", "db-9", "--facts-from", url], {
    TEND_ADMIN_TOKEN: viewer,
  });
  t.match(unknown.stderr, /No node is named db-9/);
  const noNode = await tend(["plan", dir, "--facts-from", url], { TEND_ADMIN_TOKEN: viewer });
  t.match(noNode.stderr, /--facts-from needs --node NAME/);
  const apply = await tend(["apply", dir, "--node", "web-7", "--facts-from", url], {
    TEND_ADMIN_TOKEN: viewer,
  });
  t.match(apply.stderr, /--facts-from is for tend plan only/);
  const clear = await tend(["plan", dir, "--node", "web-7", "--facts-from", "http://192.0.2.1:7420"], {
    TEND_ADMIN_TOKEN: viewer,
  });
  t.match(clear.stderr, /plain http to another machine: the admin token would cross the network in clear/);
  t.notMatch(`${plan.stdout}${plan.stderr}${wrong.stderr}`, viewer, "the token is never printed");
});

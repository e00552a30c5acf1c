/**
 * Issue 13, part 2, from the agent's side: `tend agent run --environment B` (or `environment:` in
 * agent.yaml) asks the server for an environment; the run converges what the server grants and,
 * when refused, says why on its output and in the report the server stores.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { main } from "../../cli/commands/agent.js";
import type { Report } from "../../core/types.js";
import { bearer, startTestServer } from "../helpers/server-app.js";
import { commitOn } from "../helpers/server-branches.js";
import { TestRepo } from "../helpers/server-git.js";

function recipes(target: string, motd: string): Record<string, string> {
  return {
    "nodes.yaml": '- name: "*"\n  recipes: [base]\n- name: "canary-*"\n  allow_environments: [staging]\n',
    "base/recipe.yaml": `description: base\nresources:\n  - file: ${target}\n    ensure: directory\n  - file: ${target}/motd\n    content: "${motd}\\n"\n`,
  };
}

/** Runs `tend agent …` in process; returns its exit code, standard output and standard error. */
async function tend(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const w = {
    out: process.stdout.write.bind(process.stdout),
    err: process.stderr.write.bind(process.stderr),
  };
  process.stdout.write = ((c: string) => out.push(String(c)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((c: string) => err.push(String(c)) > 0) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, out: out.join(""), err: err.join("") };
  } finally {
    process.stdout.write = w.out;
    process.stderr.write = w.err;
  }
}

t.test(
  "an agent asks for an environment: granted when allowed, refused with a reason when not",
  async (t) => {
    const root = mkdtempSync(join(tmpdir(), "tend-agent-env-"));
    t.teardown(() => rmSync(root, { recursive: true, force: true }));
    const repo = new TestRepo();
    t.teardown(() => repo.cleanup());
    const target = join(root, "target");
    repo.commit(recipes(target, "main"), "main");
    commitOn(repo, "staging", recipes(target, "staging"), "staging");
    const s = await startTestServer({
      repo,
      config: { recipes: { repo: repo.dir, branches: ["main", "staging"], poll: "0" } },
    });
    t.teardown(() => s.close());
    await s.app.listen({ port: 0, host: "127.0.0.1" });
    const url = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`;

    const agent = async (node: string) => {
      const dir = join(root, node);
      const config = join(dir, "agent.yaml");
      const state = join(dir, "state");
      const enrolled = await tend([
        "enroll",
        "--server",
        url,
        "--token",
        await s.enrollToken(),
        "--node",
        node,
        "--config",
        config,
        "--state-dir",
        state,
      ]);
      t.equal(enrolled.code, 0, enrolled.err);
      return { config, state };
    };
    const lastReport = async (node: string) => {
      const list = (
        await s.app.inject({ url: `/api/v1/nodes/${node}/reports`, headers: bearer(s.adminToken) })
      ).json();
      return (
        await s.app.inject({ url: `/api/v1/reports/${list[0].id}`, headers: bearer(s.adminToken) })
      ).json() as Report;
    };

    const db = await agent("db-1");
    const refused = await tend([
      "run",
      "--environment",
      "staging",
      "--config",
      db.config,
      "--state-dir",
      db.state,
    ]);
    t.equal(refused.code, 2, "the run converges its own environment");
    t.equal(readFileSync(join(target, "motd"), "utf8"), "main\n");
    t.match(
      refused.err,
      /tend: environment "staging" refused: nodes\.yaml \(on main\) allows db-1 only "main"; it gets "main"/,
      "the refusal is on the agent's output",
    );
    const report = await lastReport("db-1");
    t.equal(report.environment, "main", "the report names the environment served");
    t.match(report.environment_note, /environment "staging" refused/, "and carries the refusal");

    const canary = await agent("canary-1");
    writeFileSync(canary.config, `${readFileSync(canary.config, "utf8")}environment: staging\n`);
    const granted = await tend(["run", "--config", canary.config, "--state-dir", canary.state]);
    t.equal(granted.code, 2, granted.err);
    t.equal(readFileSync(join(target, "motd"), "utf8"), "staging\n", "environment: in agent.yaml is granted");
    t.notMatch(granted.err, /refused/);
    const ok = await lastReport("canary-1");
    t.equal(ok.environment, "staging");
    t.equal(ok.environment_note, undefined);

    await t.rejects(
      tend(["run", "--environment", "../main", "--config", db.config, "--state-dir", db.state]),
      { code: "TEND_E_USAGE", message: /--environment "\.\.\/main" is not a branch name/ },
    );
  },
);

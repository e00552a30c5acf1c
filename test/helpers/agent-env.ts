/**
 * An agent against a real server over 127.0.0.1: the in-process test server listening on a random
 * port, recipes that write only under a temp dir, a state dir and an agent.yaml, and enrolment.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AgentConfig, parseConfig } from "../../agent/config.js";
import { startTestServer, type TestServer } from "./server-app.js";
import { facts as fakeFacts } from "./server-git.js";

export interface AgentEnv {
  server: TestServer;
  url: string;
  /** Where the recipes write. */
  target: string;
  stateDir: string;
  configFile: string;
  node: string;
  config(extra?: Record<string, unknown>): AgentConfig;
  writeConfig(extra?: Record<string, unknown>): void;
  /** Admin GET on the API. */
  admin(path: string): Promise<unknown>;
  reportsOf(node?: string): Promise<{ id: string; status: string }[]>;
  close(): Promise<void>;
}

export const BIG = `${"big line\n".repeat(400)}`;

export function agentRecipes(target: string, motd = "hello from tend\n"): Record<string, string> {
  return {
    "nodes.yaml": '- name: "*"\n  recipes: [base]\n',
    "base/recipe.yaml": [
      "description: base",
      "resources:",
      `  - file: ${target}`,
      "    ensure: directory",
      `  - file: ${target}/motd`,
      `    content: ${JSON.stringify(motd)}`,
      `  - file: ${target}/big.txt`,
      "    source: files/big.txt",
      "",
    ].join("\n"),
    "base/files/big.txt": BIG,
  };
}

export async function startAgentEnv(node = "agent-1"): Promise<AgentEnv> {
  const root = mkdtempSync(join(tmpdir(), "tend-agent-"));
  const target = join(root, "target");
  const server = await startTestServer({ recipes: agentRecipes(target) });
  await server.app.listen({ port: 0, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
  const stateDir = join(root, "state");
  const configFile = join(root, "etc", "agent.yaml");
  const base = { server: url, node, state_dir: stateDir, splay: 0 };
  const env: AgentEnv = {
    server,
    url,
    target,
    stateDir,
    configFile,
    node,
    config: (extra = {}) => parseConfig(JSON.stringify({ ...base, ...extra }), "agent.yaml"),
    writeConfig: (extra = {}) =>
      writeFileSync(configFile, JSON.stringify({ ...base, ...extra }), { mode: 0o600 }),
    async admin(path) {
      const res = await server.app.inject({
        method: "GET",
        url: path,
        headers: { authorization: `Bearer ${server.adminToken}` },
      });
      return res.json();
    },
    async reportsOf(name = node) {
      return (await env.admin(`/api/v1/nodes/${name}/reports?limit=500`)) as { id: string; status: string }[];
    },
    async close() {
      await server.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
  return env;
}

export const testFacts = (node: string) => fakeFacts(node) as never;

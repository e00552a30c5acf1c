/**
 * /metrics by environment (docs/environments.md): nodes by environment and last status, drifted
 * resources, nodes with a note (refused or fallen back), and each environment's live commit. Read
 * from storage at most every 15 s however often /metrics is scraped (TRUST E4).
 */
import type { Deps } from "./deps.js";
import { defaultEnvironment } from "./environments.js";

const everyMs = 15_000;
const label = (v: string) => v.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));

export function environmentMetrics(d: Deps): () => Promise<string[]> {
  let cached: { at: number; lines: string[] } | undefined;
  return async () => {
    const now = Date.now();
    if (cached && now - cached.at < everyMs) return cached.lines;
    const main = defaultEnvironment(d);
    const [nodes, drift, envs] = await Promise.all([
      d.storage.listNodes(),
      d.storage.drift(),
      d.storage.nodeEnvironments(),
    ]);
    const envOf = (node: string) => envs.get(node)?.environment ?? main;
    const byStatus = new Map<string, number>();
    const drifted = new Map<string, number>();
    const noted = new Map<string, number>();
    for (const env of d.gate?.environments() ?? [main]) {
      drifted.set(env, 0);
      noted.set(env, 0);
    }
    for (const n of nodes) {
      const key = `environment="${label(envOf(n.name))}",status="${label(n.last_status ?? "none")}"`;
      byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
      if (envs.get(n.name)?.note) noted.set(envOf(n.name), (noted.get(envOf(n.name)) ?? 0) + 1);
    }
    for (const r of drift) drifted.set(envOf(r.node), (drifted.get(envOf(r.node)) ?? 0) + 1);
    const lines = [
      "# HELP tend_environment_nodes Nodes by environment and the status of their latest report.",
      "# TYPE tend_environment_nodes gauge",
      ...[...byStatus].map(([k, v]) => `tend_environment_nodes{${k}} ${v}`),
      "# HELP tend_environment_drifted_resources Resources drifted in nodes' latest reports, by environment.",
      "# TYPE tend_environment_drifted_resources gauge",
      ...[...drifted].map(([k, v]) => `tend_environment_drifted_resources{environment="${label(k)}"} ${v}`),
      "# HELP tend_environment_noted_nodes Nodes not where they asked or where nodes.yaml puts them (refused, or their branch gone), by the environment they got.",
      "# TYPE tend_environment_noted_nodes gauge",
      ...[...noted].map(([k, v]) => `tend_environment_noted_nodes{environment="${label(k)}"} ${v}`),
      "# HELP tend_environment_live The live commit of each environment served (always 1).",
      "# TYPE tend_environment_live gauge",
      ...(d.gate?.environments() ?? []).map(
        (e) => `tend_environment_live{environment="${label(e)}",commit="${d.gate?.liveFor(e)?.sha ?? ""}"} 1`,
      ),
    ];
    cached = { at: now, lines };
    return lines;
  };
}

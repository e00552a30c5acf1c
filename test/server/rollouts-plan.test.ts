/** How a rollout splits its nodes (server/rollouts/plan.ts): data-driven cases. */
import t from "tap";
import { canaryProblem, canarySize, planWaves } from "../../server/rollouts/plan.js";

const fleet = (n: number) => Array.from({ length: n }, (_, i) => `n-${String(i).padStart(3, "0")}`);
const sizes = (w: string[][]) => w.map((x) => x.length);

const cases: { nodes: number; canary: string; waves: number; want: number[] }[] = [
  { nodes: 1, canary: "1", waves: 4, want: [1] },
  { nodes: 2, canary: "1", waves: 4, want: [1, 1] },
  { nodes: 5, canary: "1", waves: 4, want: [1, 1, 1, 1, 1] },
  { nodes: 101, canary: "1", waves: 4, want: [1, 25, 25, 25, 25] },
  { nodes: 1000, canary: "1", waves: 4, want: [1, 250, 250, 250, 249] },
  { nodes: 100, canary: "10%", waves: 3, want: [10, 30, 30, 30] },
  { nodes: 7, canary: "10%", waves: 2, want: [1, 3, 3] },
  { nodes: 4, canary: "0", waves: 2, want: [2, 2] },
  { nodes: 3, canary: "5", waves: 2, want: [3] },
  { nodes: 10, canary: "100%", waves: 4, want: [10] },
];
for (const c of cases) {
  t.same(
    sizes(planWaves(fleet(c.nodes), c)),
    c.want,
    `${c.nodes} nodes, canary ${c.canary}, ${c.waves} waves`,
  );
}

t.same(
  planWaves(["web-2", "db-1", "web-1"], { canary: "1", waves: 1 }),
  [["db-1"], ["web-1", "web-2"]],
  "in name order",
);
t.equal(canarySize("0%", 10), 0);
t.equal(canaryProblem("10%"), null);
t.match(canaryProblem("half"), /neither a node count \(1\) nor a percentage \(10%\)/);
t.match(canaryProblem("150%"), /more than 100%/);

t.test("deploy: in server.yaml is checked, with file:line and field", async (t) => {
  const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { tmpdir } = await import("node:os");
  const { loadConfig } = await import("../../server/config.js");
  const { formatProblem, isTendError } = await import("../../core/errors.js");
  const dir = mkdtempSync(join(tmpdir(), "tend-deploy-config-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "server.yaml");
  writeFileSync(file, "deploy:\n  on_commit: sometimes\n  canary: half\n  waves: 0\n");
  try {
    loadConfig(file);
    t.fail("a bad deploy: section loads");
  } catch (err) {
    t.ok(isTendError(err));
    const lines = (err as { problems: Parameters<typeof formatProblem>[0][] }).problems
      .map(formatProblem)
      .join("\n");
    t.match(lines, /server\.yaml:2:\d+.*deploy\.on_commit.*"push", "auto", "manual"/);
    t.match(lines, /server\.yaml:3:\d+.*deploy\.canary/);
    t.match(lines, /server\.yaml:4:\d+.*deploy\.waves/);
  }
  writeFileSync(file, "deploy:\n  on_commit: auto\n  canary: 10%\n  pause: 2m\n");
  t.match(loadConfig(file).deploy, {
    onCommit: "auto",
    canary: "10%",
    waves: 4,
    pauseMs: 120_000,
    timeoutMs: 600_000,
  });
  t.match(loadConfig().deploy, { onCommit: "push", canary: "1", waves: 4, pauseMs: 0 });
});

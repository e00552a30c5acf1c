/**
 * The load process of bench/deploy.ts: simulated agents, each the agent's own push channel
 * (agent/push/channel.ts) with its identity in memory. On a signal each waits its random share of
 * the signal's spread, as the daemon does, then does what a run does on the wire: POST its facts
 * for its catalog (the rollout's pins decide the commit) and POST a report on that commit. Nothing
 * is converged: the figure is the server's and the channel's. A failed run is tried again (below). Run by bench/deploy.ts (fork).
 */
import { PushChannel } from "../agent/push/channel.js";
import { facts } from "../test/helpers/server-git.js";
import { makeReport } from "../test/helpers/server-report.js";

export type DeployLoadMessage =
  | { type: "start"; url: string; identities: { node: string; credential: string }[] }
  /** How many simulated runs failed since the last count (a 503 under load, a refused report). */
  | { type: "count" }
  | { type: "stop" };

const channels: PushChannel[] = [];
let connected = 0;
let failures = 0;
/** The first failure's cause, to print. */
let firstError = "";
const fail = (why: string) => {
  failures++;
  firstError ||= why;
};

async function run(url: string, node: string, credential: string, noop: boolean): Promise<void> {
  const headers = { "content-type": "application/json", authorization: `Bearer ${credential}` };
  const cat = await fetch(`${url}/api/v1/catalog`, {
    method: "POST",
    headers: { ...headers, ...(noop ? { "x-tend-run": "noop" } : {}) },
    body: JSON.stringify({ facts: facts(node) }),
  });
  const commit = cat.headers.get("x-tend-commit");
  await cat.arrayBuffer();
  if (!cat.ok || !commit) {
    fail(`catalog: HTTP ${cat.status}`);
    return;
  }
  const report = makeReport(node, commit, { drifted: ["file:/etc/motd"] });
  if (noop) report.mode = "noop";
  const res = await fetch(`${url}/api/v1/reports`, { method: "POST", headers, body: JSON.stringify(report) });
  await res.arrayBuffer();
  if (!res.ok) fail(`report: HTTP ${res.status}`);
}

/**
 * A run, and up to 3 more 2 s apart when it fails (a 503 from a busy server, a reset connection),
 * as a daemon's next run would catch up; each failure is counted.
 */
async function attempt(url: string, node: string, credential: string, noop: boolean): Promise<void> {
  for (let i = 0; i < 4; i++) {
    const before = failures;
    await run(url, node, credential, noop).catch((err: Error) => fail(String(err.cause ?? err.message)));
    if (failures === before) return;
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

process.on("message", async (m: DeployLoadMessage) => {
  if (m.type === "start") {
    for (const id of m.identities) {
      const channel = new PushChannel({
        server: m.url,
        stateDir: "/nonexistent",
        identity: async () => id,
        onSignal: (s) => {
          const wait = Math.random() * s.spreadMs;
          setTimeout(() => void attempt(m.url, id.node, id.credential, s.kind === "noop"), wait);
        },
        log: (line) => {
          if (line.startsWith("push: connected")) connected++;
        },
      });
      channels.push(channel);
      channel.start();
    }
    while (connected < m.identities.length) await new Promise((r) => setTimeout(r, 50));
    process.send!({ connected });
  } else if (m.type === "count") {
    process.send!({ failures, firstError });
    failures = 0;
    firstError = "";
  } else if (m.type === "stop") {
    for (const c of channels) c.stop();
    process.send!({ failures, firstError });
    process.exit(0);
  }
});

/**
 * The load process of bench/push.ts: simulated agents, each the agent's own push channel
 * (agent/push/channel.ts, as the daemon holds it) with its identity given in memory instead of a
 * state_dir. It records when each agent connected and when each signal reached it, and answers the
 * driver over IPC. Run by bench/push.ts (fork), never alone.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { PushChannel } from "../agent/push/channel.js";

export type LoadMessage =
  | { type: "start"; url: string; identities: { node: string; credential: string }[]; perSecond: number }
  | { type: "signal"; round: number; timeoutMs: number }
  | { type: "reconnect"; timeoutMs: number }
  | { type: "stop" };

export interface RoundResult {
  /** When each agent got the round's signal (epoch ms); missing ones are left out. */
  times: number[];
  rssMiB: number;
  lagP99Ms: number;
}

const channels: PushChannel[] = [];
/** Per agent: when each signal arrived. */
const received: number[][] = [];
/** When agents connected (every "push: connected"), and failed attempts. */
let connects: number[] = [];
let failures = 0;
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(done: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!done() && Date.now() < end) await sleep(20);
}

process.on("message", async (m: LoadMessage) => {
  if (m.type === "start") {
    const started = Date.now();
    for (const [i, id] of m.identities.entries()) {
      received.push([]);
      const channel = new PushChannel({
        server: m.url,
        stateDir: "/nonexistent",
        identity: async () => id,
        onSignal: () => received[i]!.push(Date.now()),
        log: (line) => {
          if (line.startsWith("push: connected")) connects.push(Date.now());
          else if (line.startsWith("push: cannot connect")) failures++;
        },
      });
      channels.push(channel);
      channel.start();
      // Agents arrive at `perSecond`, as a fleet's daemons would start, not in one burst.
      if (i % 100 === 99) await sleep((100 / m.perSecond) * 1000);
    }
    await until(() => connects.length >= m.identities.length, 300_000);
    process.send!({ connected: connects.length, ms: Date.now() - started, failures });
  } else if (m.type === "signal") {
    lag.reset();
    await until(() => received.every((r) => r.length >= m.round), m.timeoutMs);
    const times = received.map((r) => r[m.round - 1]).filter((x): x is number => x !== undefined);
    const result: RoundResult = {
      times,
      rssMiB: process.memoryUsage().rss / 1048576,
      lagP99Ms: lag.percentile(99) / 1e6,
    };
    process.send!(result);
  } else if (m.type === "reconnect") {
    connects = [];
    failures = 0;
    await until(() => connects.length >= channels.length, m.timeoutMs);
    process.send!({ times: connects, failures });
  } else {
    for (const c of channels) c.stop();
    process.exit(0);
  }
});

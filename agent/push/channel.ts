/**
 * The daemon's push channel: one long-lived `GET /api/v1/nodes/NAME/events` (Server-Sent Events)
 * over the same URL, TLS and credential as its runs' pulls. It hears signals only ("run now", "run
 * now in noop", "a new commit is live") and hands them to the daemon, which starts a run that pulls
 * the signed catalog as a scheduled one does: nothing that arrives here is ever applied.
 *
 * It is an accelerator, never a dependency: the schedule runs whether the stream is up or not.
 * Reconnects use full-jitter backoff within the server's `retry:` window (backoff.ts); a stream
 * that stays silent for three heartbeats is taken for dead. The daemon keeps its idle memory small
 * (docs/agent.md, "Idle memory"), so this is Node's own http/https client and a small SSE parser,
 * not undici; the credential is read from identity.json at each connect (a re-enrolment is picked
 * up) and is never logged.
 */

import { readFile } from "node:fs/promises";
import type { ClientRequest } from "node:http";
import { join } from "node:path";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { CAP_MS, reconnectDelayMs, refusedDelayMs } from "./backoff.js";

export interface Signal {
  kind: "run" | "noop" | "commit";
  /** Start at a random moment in [0, spreadMs). */
  spreadMs: number;
  commit: string | null;
}

export interface ChannelOptions {
  server: string;
  stateDir: string;
  onSignal: (signal: Signal) => void;
  log: (line: string) => void;
  random?: () => number;
  /** Where the node and credential come from (default: state_dir/identity.json, at each connect). */
  identity?: () => Promise<{ node: string; credential: string }>;
}

/** Deadline for the answer's headers, and silence allowed before the hello says the heartbeat. */
const CONNECT_TIMEOUT_MS = 30_000;
/** An event larger than this is not a signal: the stream is dropped. */
const MAX_EVENT_CHARS = 64 * 1024;

export class PushChannel {
  #req: ClientRequest | null = null;
  #timer: NodeJS.Timeout | null = null;
  #failures = 0;
  #windowMs = 0;
  #lastId: string | null = null;
  #stopped = true;
  #live = false;
  #lastProblem: string | null = null;
  readonly #random: () => number;

  constructor(private readonly o: ChannelOptions) {
    this.#random = o.random ?? Math.random;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    void this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#req?.destroy();
    this.#req = null;
  }

  async #connect(): Promise<void> {
    this.#timer = null;
    if (this.#stopped) return;
    let id: { node: string; credential: string };
    try {
      id = await (this.o.identity ?? (() => readIdentity(this.o.stateDir)))();
    } catch (err) {
      return this.#retry(`not enrolled: ${(err as Error).message}`, true);
    }
    const url = `${this.o.server}/api/v1/nodes/${encodeURIComponent(id.node)}/events`;
    const { request } = url.startsWith("https:") ? await import("node:https") : await import("node:http");
    if (this.#stopped) return;
    const headers: Record<string, string> = {
      accept: "text/event-stream",
      authorization: `Bearer ${id.credential}`,
      "user-agent": "tend-agent",
    };
    if (this.#lastId !== null) headers["last-event-id"] = this.#lastId;
    const req = request(url, { headers, agent: false });
    this.#req = req;
    let done = false;
    const finish = (problem: string, refused = false) => {
      if (done) return;
      done = true;
      if (this.#req === req) this.#req = null;
      req.destroy();
      this.#retry(problem, refused);
    };
    req.setTimeout(CONNECT_TIMEOUT_MS, () => finish("no answer in time"));
    req.on("error", (err) => finish(err.message));
    req.on("response", (res) => {
      const status = res.statusCode ?? 0;
      if (status !== 200 || !String(res.headers["content-type"]).startsWith("text/event-stream")) {
        res.resume();
        // 401/403: revoked or superseded; 404: not this server's node, or a server without the channel.
        return finish(`HTTP ${status}`, status === 401 || status === 403 || status === 404);
      }
      const parser = createParser({
        maxBufferSize: MAX_EVENT_CHARS,
        onRetry: (ms) => {
          this.#windowMs = Math.min(CAP_MS, ms);
        },
        onEvent: (e) => this.#event(e, req),
        onError: (err) => {
          if (err.type === "max-buffer-size-exceeded") finish("an oversized event");
        },
      });
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => parser.feed(chunk));
      res.on("end", () => finish("the server ended the stream"));
      res.on("error", (err) => finish(err.message));
    });
    req.end();
  }

  #event(e: EventSourceMessage, req: ClientRequest): void {
    if (e.id !== undefined && /^[0-9]{1,15}$/.test(e.id)) this.#lastId = e.id;
    let data: Record<string, unknown> = {};
    try {
      const parsed = JSON.parse(e.data) as unknown;
      if (parsed && typeof parsed === "object") data = parsed as Record<string, unknown>;
    } catch {
      // not JSON: the defaults below
    }
    if (e.event === "hello") {
      const beat = Number(data.heartbeat_ms);
      // Three heartbeats of silence: the server or the path to it is gone without a word.
      req.removeAllListeners("timeout");
      req.setTimeout(Number.isFinite(beat) && beat > 0 ? Math.max(3 * beat, 10_000) : 90_000, () =>
        req.destroy(new Error("the stream went silent")),
      );
      if (!this.#live) this.o.log(`push: connected to ${this.o.server}`);
      this.#live = true;
      this.#failures = 0;
      this.#lastProblem = null;
      return;
    }
    if (e.event !== "run" && e.event !== "noop" && e.event !== "commit") return; // a later server's
    const spread = Number(data.spread_ms);
    this.o.onSignal({
      kind: e.event,
      spreadMs: Number.isFinite(spread) && spread > 0 ? Math.min(spread, 3_600_000) : 0,
      commit: typeof data.commit === "string" ? data.commit.slice(0, 64) : null,
    });
  }

  #retry(problem: string, refused: boolean): void {
    if (this.#stopped) return;
    const wasLive = this.#live;
    this.#live = false;
    if (wasLive) this.#failures = 0;
    const delay = refused
      ? refusedDelayMs(this.#random)
      : reconnectDelayMs(this.#failures++, this.#windowMs, this.#random);
    // One line per change, not one per attempt: a server away for a day does not flood the journal.
    if (wasLive || problem !== this.#lastProblem) {
      const what = wasLive ? "stream lost" : "cannot connect";
      this.o.log(
        `push: ${what} (${problem}); next attempt in ${(delay / 1000).toFixed(1)}s; the schedule runs meanwhile`,
      );
    }
    this.#lastProblem = problem;
    this.#timer = setTimeout(() => void this.#connect(), delay);
  }
}

/** The node and credential from identity.json, without loading the agent's client code. */
async function readIdentity(stateDir: string): Promise<{ node: string; credential: string }> {
  const text = await readFile(join(stateDir, "identity.json"), "utf8");
  let id: Record<string, unknown> = {};
  try {
    id = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // JSON.parse quotes the text it fails on, which holds the credential: say nothing of it.
  }
  if (typeof id.node !== "string" || typeof id.credential !== "string")
    throw new Error("identity.json is damaged");
  return { node: id.node, credential: id.credential };
}

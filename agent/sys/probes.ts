/**
 * The health checks' probes, one attempt each: an HTTP GET (undici, redirects not followed, the
 * first 1 MiB of the body read), a TCP connect (node:net), or a command (proc.ts: argv only, its
 * process group killed at the deadline). Each settles within its check's timeout with a sentence
 * saying what it got, and never throws: a probe that cannot even start is a failed probe.
 */
import { connect } from "node:net";
import type { CatalogCheck } from "../../core/types.js";
import { loadUndici } from "../http.js";
import { cEnv, describeExit, run } from "./proc.js";

export interface ProbeResult {
  ok: boolean;
  /** What was got, and what was wanted when it differs: "status 503, wanted 2xx". */
  reason: string;
  /** Start of the body, or end of the command's output, when it helps to see it (≤ 512 bytes). */
  excerpt?: string;
}

/** Bytes of an HTTP body read for `contains`: a health page is small; a huge one is not read whole. */
const BODY_LIMIT = 1024 * 1024;
const EXCERPT_BYTES = 512;
/** Grace between SIGTERM and SIGKILL for a check command past its timeout: a probe gets little. */
const COMMAND_KILL_GRACE_MS = 2_000;

export function probe(check: CatalogCheck, signal: AbortSignal): Promise<ProbeResult> {
  if (check.type === "http") return probeHttp(check, signal);
  if (check.type === "tcp") return probeTcp(check, signal);
  return probeCommand(check, signal);
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

async function probeHttp(c: CatalogCheck, signal: AbortSignal): Promise<ProbeResult> {
  const { Agent, request } = await loadUndici();
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), c.timeout_ms);
  const stop = () => deadline.abort();
  signal.addEventListener("abort", stop, { once: true });
  // Its own dispatcher, closed after the attempt: no connection outlives a probe, none is reused.
  const dispatcher = new Agent({ connect: { timeout: c.timeout_ms } });
  try {
    const res = await request(c.url!, {
      method: "GET",
      dispatcher,
      signal: deadline.signal,
      headers: { "user-agent": "tend-check", accept: "*/*" },
      headersTimeout: c.timeout_ms,
      bodyTimeout: c.timeout_ms,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= BODY_LIMIT) break;
    }
    res.body.destroy();
    const body = Buffer.concat(chunks).subarray(0, BODY_LIMIT);
    const got = res.statusCode;
    const wanted = c.status ?? null;
    const statusOk = wanted === null ? got >= 200 && got < 300 : got === wanted;
    if (!statusOk)
      return {
        ok: false,
        reason: `status ${got}, wanted ${wanted ?? "2xx"}`,
        excerpt: excerpt(body, "start"),
      };
    if (c.contains !== undefined && !body.includes(c.contains))
      return {
        ok: false,
        reason: `status ${got}, but the body lacks ${quote(c.contains)}`,
        excerpt: excerpt(body, "start"),
      };
    return {
      ok: true,
      reason: c.contains !== undefined ? `status ${got}, body has ${quote(c.contains)}` : `status ${got}`,
    };
  } catch (err) {
    if (signal.aborted) return { ok: false, reason: "the run was stopped" };
    if (deadline.signal.aborted) return { ok: false, reason: `no answer within ${seconds(c.timeout_ms)}` };
    return { ok: false, reason: networkError(err) };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", stop);
    void dispatcher.destroy().catch(() => {});
  }
}

function probeTcp(c: CatalogCheck, signal: AbortSignal): Promise<ProbeResult> {
  const where = c.host!.includes(":") ? `[${c.host}]:${c.port}` : `${c.host}:${c.port}`;
  return new Promise((resolve) => {
    const socket = connect({ host: c.host!, port: c.port! });
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", stop);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () => done({ ok: false, reason: `no connection to ${where} within ${seconds(c.timeout_ms)}` }),
      c.timeout_ms,
    );
    const stop = () => done({ ok: false, reason: "the run was stopped" });
    signal.addEventListener("abort", stop, { once: true });
    socket.once("connect", () => done({ ok: true, reason: `connected to ${where}` }));
    socket.once("error", (err) => done({ ok: false, reason: networkError(err) }));
  });
}

async function probeCommand(c: CatalogCheck, signal: AbortSignal): Promise<ProbeResult> {
  const argv = c.argv!;
  let r: Awaited<ReturnType<typeof run>>;
  try {
    r = await run(argv, {
      env: cEnv(),
      timeoutMs: c.timeout_ms,
      killGraceMs: COMMAND_KILL_GRACE_MS,
      signal,
      maxOutput: 64 * 1024,
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === "ENOENT" ? "no such program" : e.code === "EACCES" ? "permission denied" : e.message;
    return { ok: false, reason: `cannot run ${argv[0]}: ${why}${e.code ? ` (${e.code})` : ""}` };
  }
  if (r.code === 0) return { ok: true, reason: "exited 0" };
  const out = r.output ? excerpt(Buffer.from(r.output), "end") : undefined;
  if (r.aborted) return { ok: false, reason: "the run was stopped" };
  const reason = r.timedOut
    ? `did not finish within ${seconds(c.timeout_ms)}; its process group was killed`
    : `${describeExit(r)}, wanted 0`;
  return out ? { ok: false, reason, excerpt: out } : { ok: false, reason };
}

const NETWORK: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connection timed out",
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
  UND_ERR_SOCKET: "the connection closed early",
};

/** "connection refused (ECONNREFUSED)"; for TLS and the rest, the error's own message and code. */
function networkError(err: unknown): string {
  const e = (err as { cause?: unknown }).cause ?? err;
  const { code, message } = e as NodeJS.ErrnoException;
  const known = code ? NETWORK[code] : undefined;
  if (known) return `${known} (${code})`;
  return code ? `${message} (${code})` : String(message ?? e);
}

function quote(text: string): string {
  return `'${text}'`;
}

/**
 * At most EXCERPT_BYTES of `data` (its start or its end) as text, whole characters only, control
 * characters other than newline and tab shown as U+FFFD: an excerpt goes to terminals and pages.
 */
export function excerpt(data: Buffer, from: "start" | "end"): string | undefined {
  if (data.length === 0) return undefined;
  const part = from === "start" ? data.subarray(0, EXCERPT_BYTES + 4) : data.subarray(-EXCERPT_BYTES - 4);
  let text = part.toString("utf8").replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "\uFFFD");
  while (Buffer.byteLength(text) > EXCERPT_BYTES) text = from === "start" ? text.slice(0, -1) : text.slice(1);
  // Cut between the halves of a surrogate pair: drop the half left over.
  return text.replace(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/g, "");
}

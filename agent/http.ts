/**
 * The agent's HTTP client (undici): every request has a connect, headers and body deadline; a
 * reply body is capped; redirects are never followed, so a credential is only ever sent to the
 * configured server (TRUST L3); 429/503 with Retry-After are retried after that delay, capped.
 * Credentials never appear in an error message or a log line.
 */
import { createHash } from "node:crypto";
import { constants, type FileHandle, open, unlink } from "node:fs/promises";
import { setFlagsFromString } from "node:v8";
import type { Dispatcher } from "undici";
import { TendError } from "../core/errors.js";

export interface HttpOptions {
  /** The node credential, sent as `Authorization: Bearer`. */
  credential?: string;
  /** Deadline for connecting, for the headers and for each body chunk (ms); default 30 s. */
  timeoutMs?: number;
  /** Longest Retry-After honoured (ms); longer ones are cut to this. Default 60 s. */
  retryCapMs?: number;
  /** Attempts for 429/503 answers and network errors; default 3. */
  attempts?: number;
  dispatcher?: Dispatcher;
  sleep?: (ms: number) => Promise<void>;
}

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** For a `download` written to its file: the bytes' sha256 (hex) and their count; `body` is empty. */
  file?: { sha256: string; size: number };
}

export interface RequestSpec {
  method: "GET" | "POST";
  path: string;
  json?: unknown;
  headers?: Record<string, string>;
  /** Largest reply body accepted (bytes); default 4 MiB. Over it: ReplyTooLargeError. */
  maxBytes?: number;
  /**
   * A 200 reply's body goes to this file (created 0600, exclusively: it must not exist), hashed on
   * the way, never held in memory; on any failure the file is removed. Other statuses are buffered.
   */
  download?: string;
}

export const DEFAULT_MAX_REPLY_BYTES = 4 * 1024 * 1024;

/**
 * undici, loaded at the first request rather than with this module: its start-up is a good part of
 * a run's, and a watch run repairs before it reports. Its HTTP parser is WebAssembly, which V8
 * compiles with Liftoff and then, for the hot functions, again with TurboFan in the background;
 * a process that has finished waits for that compilation before it exits (130-290 ms measured
 * after a watch run's last line, while the daemon holds back the next repair until the run has
 * ended). Liftoff's code parses a reply's few hundred bytes of headers just as well, so a run
 * keeps to it.
 */
export function loadUndici(): Promise<typeof import("undici")> {
  setFlagsFromString("--liftoff-only");
  return import("undici");
}

let shared: Dispatcher | undefined;
async function defaultDispatcher(timeoutMs: number): Promise<Dispatcher> {
  const { Agent } = await loadUndici();
  shared ??= new Agent({ connect: { timeout: timeoutMs }, keepAliveTimeout: 4_000 });
  return shared;
}

/** A Retry-After header (seconds or an HTTP date) in ms, capped; undefined when absent or unreadable. */
export function retryAfterMs(
  value: string | string[] | undefined,
  capMs: number,
  now = Date.now(),
): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  const seconds = /^\s*\d+\s*$/.test(text) ? Number(text) * 1000 : Date.parse(text) - now;
  if (!Number.isFinite(seconds)) return undefined;
  return Math.min(Math.max(0, seconds), capMs);
}

/** An answer other than the one wanted: the server's `{code, message}` when it sent one. */
export class HttpStatusError extends TendError {
  constructor(
    readonly status: number,
    readonly serverCode: string | undefined,
    message: string,
  ) {
    super("TEND_E_AGENT_HTTP", message);
  }
}

/** A reply body over the request's cap: refused, the rest not read. */
export class ReplyTooLargeError extends TendError {
  constructor(
    readonly limit: number,
    message: string,
  ) {
    super("TEND_E_AGENT_HTTP", message);
  }
}

/** `n` bytes for a person: 64 MiB, 1.5 GiB, 300 bytes. */
export function bytesText(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1 && v % 1024 === 0) {
    v /= 1024;
    u++;
  }
  return `${v} ${units[u]}`;
}

/** The server could not be reached at all (refused, reset, timed out). */
export class UnreachableError extends TendError {
  constructor(message: string) {
    super("TEND_E_AGENT_UNREACHABLE", message);
  }
}

export class HttpClient {
  readonly base: string;
  readonly #credential: string | undefined;
  readonly #timeoutMs: number;
  readonly #retryCapMs: number;
  readonly #attempts: number;
  readonly #dispatcher: Dispatcher | undefined;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(base: string, o: HttpOptions = {}) {
    this.base = base.replace(/\/+$/, "");
    this.#credential = o.credential;
    this.#timeoutMs = o.timeoutMs ?? 30_000;
    this.#retryCapMs = o.retryCapMs ?? 60_000;
    this.#attempts = o.attempts ?? 3;
    this.#dispatcher = o.dispatcher;
    this.#sleep = o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** One request, retried on 429/503 (after Retry-After) and network errors; any status comes back. */
  async send(spec: RequestSpec): Promise<HttpReply> {
    for (let attempt = 1; ; attempt++) {
      let reply: HttpReply;
      try {
        reply = await this.#once(spec);
      } catch (err) {
        if (!(err instanceof UnreachableError) || attempt >= this.#attempts) throw err;
        await this.#sleep(Math.min(this.#retryCapMs, 500 * 2 ** attempt * (0.5 + Math.random())));
        continue;
      }
      if ((reply.status === 429 || reply.status === 503) && attempt < this.#attempts) {
        const wait = retryAfterMs(reply.headers["retry-after"], this.#retryCapMs) ?? 1000 * attempt;
        await this.#sleep(wait);
        continue;
      }
      return reply;
    }
  }

  /** As send, but only `ok` statuses are an answer; others throw HttpStatusError. */
  async expect(spec: RequestSpec, ok: number[]): Promise<HttpReply> {
    const reply = await this.send(spec);
    if (ok.includes(reply.status)) return reply;
    throw statusError(spec, reply);
  }

  async #once(spec: RequestSpec): Promise<HttpReply> {
    const headers: Record<string, string> = { "user-agent": "tend-agent", ...spec.headers };
    if (this.#credential) headers.authorization = `Bearer ${this.#credential}`;
    let body: string | undefined;
    if (spec.json !== undefined) {
      body = JSON.stringify(spec.json);
      headers["content-type"] = "application/json";
    }
    const url = `${this.base}${spec.path}`;
    const { request } = await loadUndici();
    const dispatcher = this.#dispatcher ?? (await defaultDispatcher(this.#timeoutMs));
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: spec.method,
        headers,
        body,
        dispatcher,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
    } catch (err) {
      throw new UnreachableError(`cannot reach ${this.base}: ${networkText(err)}`);
    }
    const limit = spec.maxBytes ?? DEFAULT_MAX_REPLY_BYTES;
    const tooLarge = () =>
      new ReplyTooLargeError(
        limit,
        `${spec.method} ${spec.path}: the reply is larger than ${bytesText(limit)}; refused`,
      );
    const declared = Number(res.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) {
      res.body.destroy();
      throw tooLarge();
    }
    if (spec.download !== undefined && res.statusCode === 200) {
      const file = await this.#download(spec, spec.download, res, limit, tooLarge, url);
      return { status: res.statusCode, headers: res.headers, body: Buffer.alloc(0), file };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > limit) {
          res.body.destroy();
          throw tooLarge();
        }
        chunks.push(chunk as Buffer);
      }
    } catch (err) {
      if (err instanceof ReplyTooLargeError) throw err;
      throw new UnreachableError(`${spec.method} ${url}: the reply was cut off: ${networkText(err)}`);
    }
    return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) };
  }

  /** Streams a body into `path` (new, 0600, no symlink followed), hashing it; removes it on failure. */
  async #download(
    spec: RequestSpec,
    path: string,
    res: Dispatcher.ResponseData,
    limit: number,
    tooLarge: () => ReplyTooLargeError,
    url: string,
  ): Promise<{ sha256: string; size: number }> {
    let fh: FileHandle;
    try {
      fh = await open(
        path,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o600,
      );
    } catch (err) {
      res.body.destroy();
      throw err;
    }
    const hash = createHash("sha256");
    let size = 0;
    let ok = false;
    try {
      for await (const chunk of res.body) {
        const b = chunk as Buffer;
        size += b.length;
        if (size > limit) {
          res.body.destroy();
          throw tooLarge();
        }
        hash.update(b);
        await fh.write(b);
      }
      ok = true;
    } catch (err) {
      if (err instanceof ReplyTooLargeError || (err as NodeJS.ErrnoException).syscall === "write") throw err;
      throw new UnreachableError(`${spec.method} ${url}: the reply was cut off: ${networkText(err)}`);
    } finally {
      await fh.close();
      if (!ok) await unlink(path).catch(() => {});
    }
    return { sha256: hash.digest("hex"), size };
  }
}

function networkText(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? e.code;
  const message = e.cause?.message ?? e.message ?? String(err);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

function statusError(spec: RequestSpec, reply: HttpReply): HttpStatusError {
  if (reply.status >= 300 && reply.status < 400) {
    const to = String(reply.headers.location ?? "elsewhere");
    return new HttpStatusError(
      reply.status,
      undefined,
      `${spec.method} ${spec.path}: the server redirects to ${to}; tend follows no redirects (credentials stay with the configured server): set server: to the final URL`,
    );
  }
  let code: string | undefined;
  let message = reply.body.toString("utf8").slice(0, 500);
  try {
    const parsed = JSON.parse(message) as { code?: string; message?: string };
    code = parsed.code;
    message = parsed.message ?? message;
  } catch {
    // not JSON: keep the text
  }
  return new HttpStatusError(
    reply.status,
    code,
    `${spec.method} ${spec.path}: HTTP ${reply.status}${code ? ` ${code}` : ""}: ${message}`,
  );
}

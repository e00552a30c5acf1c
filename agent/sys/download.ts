/**
 * Downloads from anywhere on the web into a new file, hashed on the way: through the agent's HTTP
 * client (agent/http.ts: deadlines, a size cap, retries after a cut-off body or a 503), over the
 * proxy the environment names (HTTP_PROXY, HTTPS_PROXY, NO_PROXY, as curl and apt read them), and
 * following redirects, which release hosts use: no credential is sent, so none can leak.
 */
import { TendError } from "../../core/errors.js";
import { bytesText, HttpClient, loadUndici } from "../http.js";

export interface DownloadOptions {
  /** Largest body accepted, in bytes. */
  maxBytes: number;
  signal?: AbortSignal;
  /** Attempts after a network error or a cut-off body (default 3). */
  attempts?: number;
  /** Milliseconds between attempts (default: the client's backoff, about 1 s then 2 s). */
  retryDelayMs?: number;
}

/**
 * GET `url` into `dest` (created 0600, exclusively; removed on any failure). Resolves with the
 * body's sha256 and size once it arrived whole; throws a TEND_E_ARCHIVE_DOWNLOAD error otherwise.
 */
export async function download(
  url: string,
  dest: string,
  o: DownloadOptions,
): Promise<{ sha256: string; size: number }> {
  const u = new URL(url);
  const { EnvHttpProxyAgent, interceptors } = await loadUndici();
  const dispatcher = new EnvHttpProxyAgent({ connect: { timeout: 30_000 } }).compose(
    interceptors.redirect({ maxRedirections: 5 }),
  );
  const delay = o.retryDelayMs;
  const client = new HttpClient(u.origin, {
    dispatcher,
    attempts: o.attempts ?? 3,
    ...(delay === undefined ? {} : { sleep: () => new Promise((r) => setTimeout(r, delay)) }),
  });
  try {
    const reply = await abortable(
      client.send({ method: "GET", path: `${u.pathname}${u.search}`, download: dest, maxBytes: o.maxBytes }),
      o.signal,
    );
    if (reply.status !== 200 || !reply.file)
      throw new TendError("TEND_E_ARCHIVE_DOWNLOAD", `GET ${url} answered HTTP ${reply.status}`);
    return reply.file;
  } catch (err) {
    if (err instanceof TendError && err.code === "TEND_E_ARCHIVE_DOWNLOAD") throw err;
    const e = err as Error & { limit?: number };
    const why = e.limit ? `the file is larger than ${bytesText(e.limit)}` : e.message;
    throw new TendError("TEND_E_ARCHIVE_DOWNLOAD", `cannot download ${url}: ${why}`);
  } finally {
    // Ends a transfer still running after an abort (its partial file is removed by the client).
    await dispatcher.destroy().catch(() => {});
  }
}

/** The client takes no AbortSignal: a stopped run stops waiting, and `destroy()` above ends the transfer. */
function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  return new Promise((resolve, reject) => {
    const stop = () => reject(signal.reason ?? new Error("aborted"));
    if (signal.aborted) stop();
    signal.addEventListener("abort", stop, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", stop));
  });
}

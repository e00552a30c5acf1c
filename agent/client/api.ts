/**
 * The tend server's API as the agent uses it (docs/api.md): enrolment, the signed catalog with
 * If-None-Match, files by hash (sha256-checked), reports. Replies are checked before use.
 */
import { randomBytes } from "node:crypto";
import { rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { TendError } from "../../core/errors.js";
import type { Facts, Report } from "../../core/types.js";
import {
  bytesText,
  HttpClient as Client,
  type HttpClient,
  type HttpOptions,
  ReplyTooLargeError,
} from "../http.js";

/** The largest catalog reply the agent reads (TRUST E5). */
export const CATALOG_MAX_BYTES = 64 * 1024 * 1024;
/** The largest file fetched by hash, whatever size the catalog lists (the engine holds it in memory). */
export const FILE_MAX_BYTES = 1024 * 1024 * 1024;

export interface EnrollReply {
  node: string;
  credential: string;
  server_key: string;
  key_id: string;
}

/** What the server said of the node's environment (X-Tend-Environment and -Note headers). */
export interface EnvironmentHeaders {
  environment: string | null;
  note: string | null;
}

export type CatalogReply = (
  | { status: 304 }
  /** `preview`: the commit a noop run was served to plan, not the node's own (docs/deploys.md). */
  | { status: 200; envelope: unknown; etag: string | null; preview?: string }
) & {
  env: EnvironmentHeaders;
};

function header(v: unknown): string | null {
  return typeof v === "string" && v !== "" ? v : null;
}

export async function enroll(
  server: string,
  token: string,
  node: string,
  o: HttpOptions = {},
): Promise<EnrollReply> {
  const http = new Client(server, { ...o, credential: undefined });
  const reply = await http.expect({ method: "POST", path: "/api/v1/enroll", json: { token, node } }, [200]);
  let body: Partial<EnrollReply>;
  try {
    body = JSON.parse(reply.body.toString("utf8")) as Partial<EnrollReply>;
  } catch {
    throw new TendError(
      "TEND_E_AGENT_ENROLL",
      `${server} answered the enrolment with something other than JSON`,
    );
  }
  if (
    typeof body.credential !== "string" ||
    typeof body.server_key !== "string" ||
    typeof body.key_id !== "string" ||
    body.node !== node
  ) {
    throw new TendError(
      "TEND_E_AGENT_ENROLL",
      `${server} answered the enrolment without a credential and key`,
    );
  }
  return body as EnrollReply;
}

export class NodeApi {
  readonly http: HttpClient;

  constructor(server: string, credential: string, o: HttpOptions = {}) {
    this.http = new Client(server, { ...o, credential });
  }

  /** `noop`: a plan, which a preview rollout may serve another commit (it says so, and is not cached). */
  async catalog(
    facts: Facts,
    etag: string | null,
    maxBytes = CATALOG_MAX_BYTES,
    environment: string | null = null,
    noop = false,
  ): Promise<CatalogReply> {
    let reply: Awaited<ReturnType<HttpClient["expect"]>>;
    try {
      reply = await this.http.expect(
        {
          method: "POST",
          path: "/api/v1/catalog",
          // Sent only when asked for: servers before environments refuse unknown keys.
          json: environment ? { facts, environment } : { facts },
          headers: { ...(etag ? { "if-none-match": etag } : {}), ...(noop ? { "x-tend-run": "noop" } : {}) },
          maxBytes,
        },
        [200, 304],
      );
    } catch (err) {
      if (!(err instanceof ReplyTooLargeError)) throw err;
      throw new TendError(
        "TEND_E_CATALOG",
        `the server's catalog reply is larger than the agent's cap of ${bytesText(err.limit)}; refused (split the node's recipes, or move big files out of the catalog)`,
      );
    }
    const env = {
      environment: header(reply.headers["x-tend-environment"]),
      note: header(reply.headers["x-tend-environment-note"]),
    };
    if (reply.status === 304) return { status: 304, env };
    let envelope: unknown;
    try {
      envelope = JSON.parse(reply.body.toString("utf8"));
    } catch {
      throw new TendError("TEND_E_CATALOG", "the server's catalog reply is not JSON (cut off?); refused");
    }
    const tag = reply.headers.etag;
    const preview = reply.headers["x-tend-preview"];
    return {
      status: 200,
      envelope,
      etag: typeof tag === "string" ? tag : null,
      env,
      ...(noop && typeof preview === "string" ? { preview } : {}),
    };
  }

  /**
   * The file `sha` into `dir/sha`: streamed to a temp file in `dir` while hashed (never held in
   * memory), renamed into place only when its bytes hash to `sha`. `size` is what the signed
   * catalog lists: more bytes than that (or than FILE_MAX_BYTES) are refused while they arrive.
   */
  async fileTo(sha: string, dir: string, size?: number): Promise<string> {
    if (!/^[0-9a-f]{64}$/.test(sha)) throw new TendError("TEND_E_CATALOG", `"${sha}" is not a sha256`);
    const limit = Math.min(size ?? FILE_MAX_BYTES, FILE_MAX_BYTES);
    const final = join(dir, sha);
    const temp = join(dir, `.${sha}.${randomBytes(6).toString("hex")}.tmp`);
    let reply: Awaited<ReturnType<HttpClient["expect"]>>;
    try {
      reply = await this.http.expect(
        { method: "GET", path: `/api/v1/files/${sha}`, maxBytes: limit, download: temp },
        [200],
      );
    } catch (err) {
      if (!(err instanceof ReplyTooLargeError)) throw err;
      const why =
        size !== undefined && size <= FILE_MAX_BYTES
          ? "the size the catalog lists for it"
          : "the agent's cap";
      throw new TendError(
        "TEND_E_CATALOG",
        `the server sent more than ${bytesText(limit)} (${why}) for file ${sha}; refused`,
      );
    }
    if (reply.file?.sha256 !== sha) {
      await unlink(temp).catch(() => {});
      throw new TendError(
        "TEND_E_CATALOG",
        `the server sent content for ${sha} that does not match its sha256; refused`,
      );
    }
    await rename(temp, final);
    return final;
  }

  async report(report: Report): Promise<void> {
    await this.http.expect({ method: "POST", path: "/api/v1/reports", json: report }, [200, 201]);
  }
}

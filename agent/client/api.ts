/**
 * The tend server's API as the agent uses it (docs/api.md): enrolment, the signed catalog with
 * If-None-Match, files by hash (sha256-checked), reports. Replies are checked before use.
 */
import { TendError } from "../../core/errors.js";
import { sha256 } from "../../core/hash.js";
import type { Facts, Report } from "../../core/types.js";
import { HttpClient as Client, type HttpClient, type HttpOptions } from "../http.js";

export interface EnrollReply {
  node: string;
  credential: string;
  server_key: string;
  key_id: string;
}

export type CatalogReply = { status: 304 } | { status: 200; envelope: unknown; etag: string | null };

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

  async catalog(facts: Facts, etag: string | null): Promise<CatalogReply> {
    const reply = await this.http.expect(
      {
        method: "POST",
        path: "/api/v1/catalog",
        json: { facts },
        headers: etag ? { "if-none-match": etag } : {},
        maxBytes: 512 * 1024 * 1024,
      },
      [200, 304],
    );
    if (reply.status === 304) return { status: 304 };
    let envelope: unknown;
    try {
      envelope = JSON.parse(reply.body.toString("utf8"));
    } catch {
      throw new TendError("TEND_E_CATALOG", "the server's catalog reply is not JSON (cut off?); refused");
    }
    const tag = reply.headers.etag;
    return { status: 200, envelope, etag: typeof tag === "string" ? tag : null };
  }

  /** A file by sha256; the bytes must hash to it. */
  async file(sha: string): Promise<Buffer> {
    const reply = await this.http.expect({ method: "GET", path: `/api/v1/files/${sha}` }, [200]);
    if (sha256(reply.body) !== sha) {
      throw new TendError(
        "TEND_E_CATALOG",
        `the server sent content for ${sha} that does not match its sha256`,
      );
    }
    return reply.body;
  }

  async report(report: Report): Promise<void> {
    await this.http.expect({ method: "POST", path: "/api/v1/reports", json: report }, [200, 201]);
  }
}

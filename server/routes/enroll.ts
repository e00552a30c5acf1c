/**
 * POST /api/v1/enroll: an enrolment token and a node name buy a node credential. Rate-limited per
 * client address before any database work; the token's expiry, uses and name glob are checked,
 * and an existing name is superseded only with a token that allows it, which must name its nodes
 * with a glob.
 */
import type { FastifyInstance } from "fastify";
import picomatch from "picomatch";
import type { Deps } from "../deps.js";
import { errorReplies, HttpError } from "../http.js";
import { hashSecret, newSecret, nodeNameProblem } from "../identity.js";

/** Buckets kept: the least recently used go first (a full bucket carries no state anyway). */
const maxBuckets = 10_000;

export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly burst: number,
    private readonly perMs: number,
  ) {}

  /** Seconds to wait, or 0 when the request may go ahead. */
  take(address: string, now: number): number {
    const key = clientKey(address);
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + (now - b.at) * this.perMs);
    b.at = now;
    // Re-inserted, so the Map's order is least recently used first; bounded memory under address
    // spraying without resetting everyone's limit at once (it used to clear the whole map).
    this.buckets.delete(key);
    this.buckets.set(key, b);
    while (this.buckets.size > maxBuckets) {
      const oldest = this.buckets.keys().next().value;
      if (oldest === undefined) break;
      this.buckets.delete(oldest);
    }
    if (b.tokens < 1) return Math.ceil((1 - b.tokens) / this.perMs / 1000);
    b.tokens -= 1;
    return 0;
  }
}

/**
 * One bucket per IPv4 address, and per /64 for IPv6: a host is usually given a whole /64, so
 * counting its addresses apart would let it spray around the limit.
 */
export function clientKey(address: string): string {
  const v4 = /^(?:::ffff:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4?.[1]) return v4[1];
  if (!address.includes(":")) return address;
  const [head = "", tail = ""] = address.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = address.includes("::")
    ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

export function enrollRoutes(app: FastifyInstance, d: Deps): void {
  const limiter = new TokenBuckets(d.config.limits.enrollBurst, d.config.limits.enrollPerMinute / 60_000);
  app.post<{ Body: { token: string; node: string } }>(
    "/api/v1/enroll",
    {
      config: { auth: "enroll" },
      schema: {
        summary: "Trade an enrolment token for a node credential",
        body: {
          type: "object",
          additionalProperties: false,
          required: ["token", "node"],
          properties: {
            token: { type: "string", minLength: 1, maxLength: 200 },
            node: { type: "string", minLength: 1, maxLength: 253 },
          },
        },
        response: {
          200: {
            type: "object",
            required: ["node", "credential", "server_key", "key_id", "superseded"],
            properties: {
              node: { type: "string" },
              credential: {
                type: "string",
                description: "The node's secret: send as `Authorization: Bearer`.",
              },
              server_key: {
                type: "string",
                description: "The server's Ed25519 public key (SPKI PEM) to pin.",
              },
              key_id: { type: "string" },
              superseded: {
                type: "boolean",
                description: "True when an earlier credential of this name was replaced.",
              },
            },
          },
          ...errorReplies,
        },
      },
    },
    async (req) => {
      const wait = limiter.take(req.ip, d.now());
      if (wait > 0)
        throw new HttpError(429, "TEND_E_RATE_LIMITED", "Too many enrolment attempts; slow down.", [], wait);
      const { token, node } = req.body;
      const record = token.startsWith("tend_enr_") ? await d.storage.getToken(hashSecret(token)) : undefined;
      if (record?.kind !== "enroll" || (record.expires_at !== null && record.expires_at <= d.now())) {
        throw new HttpError(
          401,
          "TEND_E_UNAUTHORIZED",
          "The enrolment token is not valid (unknown or expired).",
        );
      }
      if (record.uses_left !== null && record.uses_left <= 0) {
        throw new HttpError(
          409,
          "TEND_E_TOKEN_SPENT",
          "The enrolment token has already been used; ask for a new one.",
        );
      }
      const nameProblem = nodeNameProblem(node);
      if (nameProblem) throw new HttpError(400, "TEND_E_NODE_NAME", `The node name ${nameProblem}.`);
      // `token create` refuses --reenroll without --node; a token stored otherwise (older versions,
      // a hand-made row) must not be able to replace the credential of any node (TRUST A3, B2).
      if (record.reenroll && !record.node_glob) {
        throw new HttpError(
          403,
          "TEND_E_FORBIDDEN",
          "This re-enrolment token names no nodes (no --node glob), so it may not enrol any; create one with --reenroll --node GLOB.",
        );
      }
      if (record.node_glob && !picomatch.isMatch(node, record.node_glob, { dot: true })) {
        throw new HttpError(403, "TEND_E_FORBIDDEN", "This enrolment token may not enrol that node name.");
      }
      const credential = newSecret("node");
      const outcome = await d.storage.enroll({
        tokenHash: record.hash,
        node,
        credentialHash: hashSecret(credential),
        now: d.now(),
        allowSupersede: record.reenroll,
      });
      if (!outcome.ok && outcome.reason === "token-used") {
        throw new HttpError(
          409,
          "TEND_E_TOKEN_SPENT",
          "The enrolment token has already been used; ask for a new one.",
        );
      }
      if (!outcome.ok) {
        throw new HttpError(
          409,
          "TEND_E_NODE_EXISTS",
          "That node name is already enrolled; re-enrolling it needs a token made with --reenroll.",
        );
      }
      if (outcome.superseded) req.log.warn({ node }, "node re-enrolled: its previous credential is revoked");
      return {
        node,
        credential,
        server_key: d.key.publicKeyPem,
        key_id: d.key.keyId,
        superseded: outcome.superseded,
      };
    },
  );
}

/**
 * Which nodes an action applies to, by the fleet page's filter (status, drifted only, stale only,
 * name search), and the install line a new enrolment token is shown with.
 */
import type { FastifyRequest } from "fastify";
import type { Deps } from "../deps.js";
import { keyFingerprint } from "../key-info.js";
import { type Expr, parseSearch } from "../search/parse.js";
import { searchHttpError } from "../search/run.js";

/** The fleet page's filter; empty selects every node. */
export interface NodeFilter {
  status?: string;
  drifted?: boolean;
  stale?: boolean;
  /** Case-insensitive substring of the node name. */
  q?: string;
  /** A fleet search (docs/dashboard.md); a mistake in it is a 400. */
  where?: string;
}

/** An action never names more nodes than this in one go. */
export const maxSelection = 100_000;

/** The names the filter selects, sorted. */
export async function selectNodes(d: Deps, f: NodeFilter): Promise<string[]> {
  const ms = d.now() - 2 * d.config.agentIntervalMs;
  let where: Expr | undefined;
  try {
    where = f.where ? parseSearch(f.where) : undefined;
  } catch (err) {
    throw searchHttpError(err);
  }
  const { rows } = await d.storage.ui.fleet({
    where,
    live: where ? await d.storage.liveCommit() : null,
    status: f.status,
    driftedOnly: f.drifted,
    staleOnly: f.stale,
    search: f.q,
    stale: { ms, iso: new Date(ms).toISOString() },
    sort: "name",
    desc: false,
    offset: 0,
    limit: maxSelection,
  });
  return rows.map((r) => r.name);
}

/**
 * This server's address as the client reached it (through `behind_tls_proxy`'s one hop); the
 * configured listen address when the Host header holds anything but a host and port, since the
 * line is pasted into a shell.
 */
export function serverUrl(req: FastifyRequest, d: Deps): string {
  const url = `${req.protocol}://${req.host}`;
  if (/^https?:\/\/[A-Za-z0-9.:[\]-]{1,300}$/.test(url)) return url;
  const { host, port } = d.config.listen;
  return `${d.config.tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * The line to paste on a new box: install.sh from this server, the token in the environment (not
 * on the command line, where `ps` shows it), the server's signing key pinned.
 */
export function installLine(req: FastifyRequest, d: Deps, token: string, node?: string): string {
  const url = serverUrl(req, d);
  const fp = keyFingerprint(d.key.publicKeyPem);
  const name = node ? ` --node ${node}` : "";
  return `curl -fsSL ${url}/install.sh | TEND_TOKEN=${token} sh -s -- --server ${url} --server-key ${fp}${name}`;
}

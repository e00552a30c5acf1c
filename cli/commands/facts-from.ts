/**
 * `tend plan DIR --node NAME --facts-from SERVER`: the node's last reported facts, read from the
 * server's `GET /api/v1/nodes/NAME/facts` with an admin token of the viewer role or above, from
 * TEND_ADMIN_TOKEN or `--token-file FILE` (never the command line, where `ps` shows it). Plain
 * http:// only to this machine unless `--insecure-http`: the token must not cross a network in clear.
 */
import { readFile } from "node:fs/promises";
import { TendError } from "../../core/errors.js";
import { schemaProblems } from "../../core/schema.js";
import type { Facts } from "../../core/types.js";

export interface FactsFrom {
  server: string;
  tokenFile?: string;
  insecureHttp: boolean;
}

const loopback = (host: string) => host === "localhost" || host === "[::1]" || /^127\./.test(host);

async function adminToken(o: FactsFrom): Promise<string> {
  if (o.tokenFile) {
    try {
      return (await readFile(o.tokenFile, "utf8")).trim();
    } catch (err) {
      throw new TendError(
        "TEND_E_USAGE",
        `cannot read --token-file ${o.tokenFile}: ${(err as Error).message}`,
      );
    }
  }
  const token = process.env.TEND_ADMIN_TOKEN?.trim();
  if (!token) {
    throw new TendError(
      "TEND_E_USAGE",
      "--facts-from needs an admin token (the viewer role is enough): set TEND_ADMIN_TOKEN, or give --token-file FILE (`tend server token create --admin --role viewer` makes one).",
    );
  }
  return token;
}

/** The node's facts as the server last had them, checked against the facts schema. */
export async function remoteFacts(
  o: FactsFrom,
  node: string,
): Promise<{ facts: Facts; environment: string }> {
  let url: URL;
  try {
    url = new URL(`/api/v1/nodes/${encodeURIComponent(node)}/facts`, o.server.replace(/\/*$/, "/"));
  } catch {
    throw new TendError(
      "TEND_E_USAGE",
      `--facts-from "${o.server}" is not a URL such as https://tend.example.com:7420`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new TendError("TEND_E_USAGE", `--facts-from "${o.server}" is not an http:// or https:// URL`);
  }
  if (url.protocol === "http:" && !loopback(url.hostname) && !o.insecureHttp) {
    throw new TendError(
      "TEND_E_USAGE",
      `--facts-from ${o.server} is plain http to another machine: the admin token would cross the network in clear. Use https://, or --insecure-http if you must.`,
    );
  }
  const token = await adminToken(o);
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, redirect: "error" });
  } catch (err) {
    throw new TendError("TEND_E_FACTS_FROM", `cannot reach ${url.origin}: ${(err as Error).message}`);
  }
  const text = await res.text();
  let body: { facts?: unknown; environment?: string; message?: string } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // said below by status
  }
  if (res.status === 401 || res.status === 403) {
    throw new TendError(
      "TEND_E_FACTS_FROM",
      `${url.origin} refused the admin token (${res.status}): ${body.message ?? text.slice(0, 200)}`,
    );
  }
  if (res.status === 404) {
    throw new TendError("TEND_E_FACTS_FROM", `${url.origin}: ${body.message ?? `no facts for node ${node}`}`);
  }
  if (res.status !== 200) {
    throw new TendError(
      "TEND_E_FACTS_FROM",
      `${url.origin} answered ${res.status}: ${body.message ?? text.slice(0, 200)}`,
    );
  }
  const problems = schemaProblems("facts", body.facts, { file: `${url.origin} facts of ${node}` });
  if (problems.length) {
    throw new TendError(
      "TEND_E_FACTS_FROM",
      `the facts ${url.origin} has for ${node} are incomplete`,
      problems,
    );
  }
  return { facts: body.facts as Facts, environment: body.environment ?? "" };
}

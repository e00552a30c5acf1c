/**
 * What a bare box needs to join: GET /install.sh (the bootstrap script), GET /agent/tend-agent.js
 * (the agent as one file, built by `npm run build`), GET /agent/tend-agent.js.sha256 (its digest),
 * GET /agent/tend-agent.js.sig (the server's Ed25519 signature of it, see `bundleMessage`) and
 * GET /agent/server-key.pem (the public key that checks it). Unauthenticated: nothing here is
 * secret. The digest only catches a damaged download; the signature is what install.sh checks
 * against a key pinned out of band (`--server-key`), so a bundle swapped on the way is refused
 * before it runs (TRUST A9). Files are read from disk and re-hashed only when they change.
 */
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import { errorReplies, HttpError } from "../http.js";
import type { SigningKey } from "../signing.js";

/**
 * The bytes the bundle's signature covers: ASCII `tend-agent.js sha256:` and the bundle's hex
 * sha256, no newline. Signing its digest under a name, rather than the raw file, keeps the
 * signature apart from the catalog signatures made with the same key (those cover canonical JSON,
 * which starts with `{`); install.sh builds the same string before it verifies.
 */
export function bundleMessage(sha256Hex: string): Buffer {
  return Buffer.from(`tend-agent.js sha256:${sha256Hex}`, "ascii");
}

interface Served {
  path: string;
  stamp: string;
  data: Buffer;
  sha256: string;
}

/** The first existing candidate (relative to this module: the source tree or dist/chunks/). */
function locate(envName: string, candidates: string[]): string | null {
  const fromEnv = process.env[envName];
  if (fromEnv) return fromEnv;
  for (const c of candidates) {
    const path = fileURLToPath(new URL(c, import.meta.url));
    if (statSync(path, { throwIfNoEntry: false })?.isFile()) return path;
  }
  return null;
}

function cachedReader(envName: string, candidates: string[], missing: string): () => Served {
  let served: Served | null = null;
  return () => {
    const path = locate(envName, candidates);
    const st = path ? statSync(path, { throwIfNoEntry: false }) : undefined;
    if (!path || !st) throw new HttpError(404, "TEND_E_HTTP_NOT_FOUND", missing);
    const stamp = `${st.size}:${st.mtimeMs}`;
    if (served?.path !== path || served.stamp !== stamp) {
      const data = readFileSync(path);
      served = { path, stamp, data, sha256: createHash("sha256").update(data).digest("hex") };
    }
    return served;
  };
}

const text = { 200: { type: "string" }, ...errorReplies };

export function agentBundleRoutes(app: FastifyInstance, key: SigningKey): void {
  const bundle = cachedReader(
    "TEND_AGENT_BUNDLE",
    ["../../dist/tend-agent.js", "../tend-agent.js", "./tend-agent.js"],
    "This server has no agent bundle: run `npm run build` where it is installed.",
  );
  const script = cachedReader(
    "TEND_INSTALL_SH",
    ["../../install.sh", "../install.sh", "./install.sh"],
    "This server has no install.sh next to it.",
  );

  app.get("/install.sh", {
    config: { auth: "none" },
    schema: { summary: "The bootstrap script for a new box (POSIX sh)", response: text },
    handler: async (_req, reply) => reply.type("text/x-shellscript; charset=utf-8").send(script().data),
  });

  app.get("/agent/tend-agent.js", {
    config: { auth: "none" },
    schema: { summary: "The agent bundle (one JavaScript file for Node.js >= 20)", response: text },
    handler: async (_req, reply) => {
      const b = bundle();
      return reply.type("text/javascript; charset=utf-8").header("x-content-sha256", b.sha256).send(b.data);
    },
  });

  app.get("/agent/tend-agent.js.sha256", {
    config: { auth: "none" },
    schema: { summary: "sha256 of the agent bundle, as `sha256sum` prints it", response: text },
    handler: async (_req, reply) =>
      reply.type("text/plain; charset=utf-8").send(`${bundle().sha256}  tend-agent.js\n`),
  });

  app.get("/agent/tend-agent.js.sig", {
    config: { auth: "none" },
    schema: {
      summary:
        "base64 Ed25519 signature, by the server's signing key, of `tend-agent.js sha256:` and the bundle's hex sha256",
      response: text,
    },
    handler: async (_req, reply) => {
      const b = bundle();
      return reply
        .type("text/plain; charset=utf-8")
        .header("x-content-sha256", b.sha256)
        .send(`${key.sign(bundleMessage(b.sha256).toString("ascii"))}\n`);
    },
  });

  app.get("/agent/server-key.pem", {
    config: { auth: "none" },
    schema: {
      summary:
        "The server's Ed25519 public key (SPKI PEM); its fingerprint is what `tend server key` prints and `--server-key` pins",
      response: text,
    },
    handler: async (_req, reply) => reply.type("application/x-pem-file").send(key.publicKeyPem),
  });
}

/**
 * Compressed request bodies (`Content-Encoding: gzip` or `deflate`; any other coding is refused
 * with 415 before the body is read): decompressed as they stream in, with the body limit applied to the decompressed bytes. A body that inflates past the limit
 * (a "zip bomb") is cut off at the limit with 413: the decoder is destroyed and the rest of the
 * compressed input is read and dropped without being inflated, so memory and CPU stay bounded.
 * JSON bodies, compressed or not, are also pre-scanned for nesting depth as they stream in.
 */
import { type Readable, Transform } from "node:stream";
import { createGunzip, createInflate } from "node:zlib";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { HttpError } from "../http.js";
import { maxDepth, tooDeep } from "./guard.js";

const decoders: Record<string, () => Transform> = {
  gzip: createGunzip,
  "x-gzip": createGunzip,
  deflate: createInflate,
};

/** The request's content coding, lower-cased; undefined for none or `identity`. */
function contentEncoding(req: FastifyRequest): string | undefined {
  const value = req.headers["content-encoding"]?.trim().toLowerCase();
  return value === undefined || value === "" || value === "identity" ? undefined : value;
}

const tooLarge = (limit: number) =>
  new HttpError(413, "TEND_E_TOO_LARGE", `The request body is larger than ${limit} bytes once decompressed.`);

/** `source` inflated by `decoder`, failing with 413 past `limit` decompressed bytes. */
function inflate(source: Readable, decoder: Transform, limit: number): Readable {
  let inflated = 0;
  const out = new Transform({
    transform(chunk: Buffer, _enc, done) {
      inflated += chunk.length;
      if (inflated > limit) {
        stop();
        return done(tooLarge(limit));
      }
      done(null, chunk);
    },
  }) as Transform & { receivedEncodedLength: number };
  // fastify checks Content-Length against the bytes that arrived, not the inflated ones.
  out.receivedEncodedLength = 0;
  const stop = () => {
    source.unpipe(decoder);
    decoder.destroy();
    source.resume(); // drain what is left of the compressed input, uninflated
  };
  source.on("data", (chunk: Buffer) => {
    out.receivedEncodedLength += chunk.length;
  });
  decoder.on("error", (err) => {
    stop();
    out.destroy(new HttpError(400, "TEND_E_BAD_REQUEST", `The compressed body is corrupt: ${err.message}`));
  });
  return source.pipe(decoder).pipe(out);
}

/**
 * `source` with its JSON nesting counted as the bytes stream through, failing with the same 400 as
 * guard.ts's check past `maxDepth` open brackets: a deeply nested body is refused before
 * `JSON.parse` builds it (600,000 levels fit in 4 MiB), and without reading the rest of it. Only
 * brackets outside strings count; UTF-8 continuation bytes are never ASCII, so bytes suffice.
 * A body the parser would refuse anyway (unbalanced, not JSON) may be refused here first.
 */
function depthLimited(source: Readable): Readable {
  let depth = 0;
  let inString = false;
  let escaped = false;
  const out = new Transform({
    transform(chunk: Buffer, _enc, done) {
      for (let i = 0; i < chunk.length; i++) {
        const c = chunk[i];
        if (inString) {
          if (escaped) escaped = false;
          else if (c === 0x5c)
            escaped = true; // backslash
          else if (c === 0x22) inString = false;
        } else if (c === 0x22) {
          inString = true;
        } else if (c === 0x5b || c === 0x7b) {
          if (++depth > maxDepth) {
            source.unpipe(out);
            source.resume(); // drain the rest unread
            return done(new HttpError(400, "TEND_E_BAD_REQUEST", `The body ${tooDeep}.`));
          }
        } else if (c === 0x5d || c === 0x7d) {
          depth--;
        }
      }
      done(null, chunk);
    },
  });
  // fastify compares Content-Length with the bytes received on the wire (see inflate).
  if ("receivedEncodedLength" in source) {
    Object.defineProperty(out, "receivedEncodedLength", {
      get: () => (source as Readable & { receivedEncodedLength: number }).receivedEncodedLength,
    });
  }
  source.on("error", (err) => out.destroy(err));
  return source.pipe(out);
}

export function decompressPlugin(app: FastifyInstance, limit: number): void {
  // onRequest, as the overload guard's: a coding we cannot decode is refused before the body is read.
  app.addHook("onRequest", async (req) => {
    const encoding = contentEncoding(req);
    if (encoding !== undefined && !Object.hasOwn(decoders, encoding)) {
      throw new HttpError(
        415,
        "TEND_E_MEDIA_TYPE",
        `Content-Encoding "${encoding.slice(0, 40)}" is not accepted; send gzip, deflate or identity.`,
      );
    }
  });
  app.addHook("preParsing", async (req, _reply, payload) => {
    const encoding = contentEncoding(req);
    const decoder = encoding ? decoders[encoding] : undefined;
    const body = decoder ? inflate(payload, decoder(), limit) : payload;
    return /json/i.test(req.headers["content-type"] ?? "") ? depthLimited(body) : body;
  });
}

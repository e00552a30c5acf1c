/**
 * Compressed request bodies (`Content-Encoding: gzip` or `deflate`): decompressed as they stream
 * in, with the body limit applied to the decompressed bytes. A body that inflates past the limit
 * (a "zip bomb") is cut off at the limit with 413: the decoder is destroyed and the rest of the
 * compressed input is read and dropped without being inflated, so memory and CPU stay bounded.
 */
import { type Readable, Transform } from "node:stream";
import { createGunzip, createInflate } from "node:zlib";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { HttpError } from "../http.js";

const decoders: Record<string, () => Transform> = {
  gzip: createGunzip,
  "x-gzip": createGunzip,
  deflate: createInflate,
};

/** The request's content coding, lower-cased; undefined for none or `identity`. */
export function contentEncoding(req: FastifyRequest): string | undefined {
  const value = req.headers["content-encoding"]?.trim().toLowerCase();
  return value === undefined || value === "" || value === "identity" ? undefined : value;
}

export function isAcceptedEncoding(encoding: string): boolean {
  return Object.hasOwn(decoders, encoding);
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

export function decompressPlugin(app: FastifyInstance, limit: number): void {
  app.addHook("preParsing", async (req, _reply, payload) => {
    const encoding = contentEncoding(req);
    const decoder = encoding ? decoders[encoding] : undefined;
    return decoder ? inflate(payload, decoder(), limit) : payload;
  });
}

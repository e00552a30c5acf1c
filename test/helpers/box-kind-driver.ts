/**
 * Runs inside a test box for box-kind.ts: reads one request (JSON) on stdin, calls the real kind as
 * the engine would (its prefetch, in the same noop mode, then check or apply) and prints one reply.
 */
import { readFileSync } from "node:fs";
import { kinds } from "../../agent/resources/index.js";
import type { ResourceType } from "../../core/types.js";
import type { DriverReply, DriverRequest } from "./box-kind.js";
import { Contents, context } from "./kind-harness.js";

const req = JSON.parse(readFileSync(0, "utf8")) as DriverRequest;
const contents = new Contents();
for (const b64 of Object.values(req.files)) contents.add(Buffer.from(b64, "base64"));
const kind = kinds[req.type as ResourceType];
const base = { stateDir: req.stateDir, contents, run: req.run, noop: req.noop };
const reply: DriverReply = { run: req.run };
try {
  const prefetched = kind.prefetch ? await kind.prefetch([req.resource], context(base)) : undefined;
  const ctx = context({ ...base, prefetched });
  if (req.op === "check") reply.result = await kind.check(req.resource, ctx);
  else await kind.apply(req.resource, req.changes, ctx);
} catch (err) {
  const e = err as { code?: string; message: string };
  reply.error = { code: e.code, message: e.message };
}
process.stdout.write(`${JSON.stringify(reply)}\n`);

/**
 * Runs inside a test box (test/agent/resources/service-box.test.ts): reads steps as JSON on stdin,
 * drives the real file and service kinds as the engine would (check → apply → check), and prints
 * one JSON result per step. `ctx.run` is shared across the steps of one invocation: one run.
 */
import { readFileSync } from "node:fs";
import { kinds } from "../../../agent/resources/index.js";
import type { Change, Json } from "../../../core/types.js";
import { Contents, context, resource } from "../../helpers/kind-harness.js";

interface Step {
  type: "file" | "service";
  name: string;
  params: Record<string, Json>;
  /** For a file: its content. */
  content?: string;
  op?: "converge" | "refresh";
}

if (process.env.TEND_SERVICE_DRIVER !== "1") {
  // tap runs every file under test/; outside a box this is not a test.
  process.stdout.write("1..0 # SKIP driver for service-box.test.ts, runs inside a box\n");
  process.exit(0);
}
const steps = JSON.parse(readFileSync(0, "utf8")) as Step[];
const contents = new Contents();
const run: Record<string, Json> = { "service.settle_ms": 2000 };
const out: Array<{ changes: Change[]; error: string | null; code: string | null }> = [];
for (const s of steps) {
  const params = { ...s.params };
  if (s.content !== undefined) params.content_sha256 = contents.add(s.content);
  const r = resource(s.type, s.name, params);
  const kind = kinds[s.type];
  const ctx = context({ stateDir: "/var/lib/tend", contents, run });
  try {
    if (s.op === "refresh") {
      await kind.refresh?.(r, ctx);
      out.push({ changes: [{ property: "refresh", from: null, to: true }], error: null, code: null });
      continue;
    }
    const { changes } = await kind.check(r, ctx);
    if (changes.length > 0) await kind.apply(r, changes, ctx);
    const after = await kind.check(r, ctx);
    if (after.changes.length > 0) throw new Error(`did not converge: ${JSON.stringify(after.changes)}`);
    out.push({ changes, error: null, code: null });
  } catch (err) {
    const e = err as { message: string; code?: string };
    out.push({ changes: [], error: e.message, code: e.code ?? null });
  }
}
process.stdout.write(`${JSON.stringify({ steps: out, reloads: run["service.daemon_reloads"] ?? 0 })}\n`);

/**
 * Kinds that change what the host must keep (apt sources, cron jobs, kernel parameters) are tested
 * inside a test box, through the same shared harness as every other kind: `boxKind` is a kind whose
 * check and apply run in the box, one driver process per call (box-kind-driver.ts), with the
 * harness's contents and run scratch handed across. The harness watches paths under `box.root`,
 * the box's file system as the host sees it. `bootTendBox` boots a box that can run this checkout;
 * `tendIn` runs the tend CLI in it.
 */
import { realpathSync } from "node:fs";
import { join } from "node:path";
import type { CheckResult, Kind, KindContext } from "../../agent/resources/kind.js";
import { TendError } from "../../core/errors.js";
import type { CatalogResource, Change, Json } from "../../core/types.js";
import { type Box, bootBox } from "../boxes/lib/index.js";
import { repoRoot } from "./cli.js";
import type { Contents } from "./kind-harness.js";

/** Where the checkout appears in a box. */
export const BOX_TEND = "/opt/tend";
const TSX = `${BOX_TEND}/node_modules/tsx/dist/esm/index.mjs`;

/**
 * A box with this checkout at /opt/tend (read-only) and the host's node; `shared` host directories
 * appear at the same paths, writable (a state dir the harness watches from the host).
 */
export async function bootTendBox(
  t: Parameters<typeof bootBox>[0],
  hostname: string,
  shared: string[] = [],
): Promise<Box> {
  // node_modules may be a link to another checkout's (a git worktree): bind its target too.
  const modules = realpathSync(join(repoRoot, "node_modules"));
  return bootBox(t, {
    hostname,
    binds: [
      { host: process.execPath, box: "/usr/local/bin/node", readOnly: true },
      { host: repoRoot, box: BOX_TEND, readOnly: true },
      ...(modules.startsWith(repoRoot) ? [] : [{ host: modules, box: modules, readOnly: true }]),
      ...shared.map((dir) => ({ host: dir, box: dir, readOnly: false })),
    ],
  });
}

/** `tend ARGS` inside the box: exit code and output. */
export async function tendIn(
  box: Box,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return box.exec(["node", "--import", TSX, `${BOX_TEND}/cli/main.ts`, ...args]);
}

export interface DriverRequest {
  op: "check" | "apply";
  type: string;
  resource: CatalogResource;
  changes: Change[];
  noop: boolean;
  stateDir: string;
  run: Record<string, Json>;
  /** Contents by sha256, base64. */
  files: Record<string, string>;
}

export interface DriverReply {
  result?: CheckResult;
  run: Record<string, Json>;
  error?: { code?: string; message: string };
}

/** `kind`, run inside `box`: the harness drives it as it drives any kind. */
export function boxKind(box: Box, kind: Kind, contents?: Contents): Kind {
  const call = async (op: DriverRequest["op"], r: CatalogResource, changes: Change[], ctx: KindContext) => {
    const files: Record<string, string> = {};
    for (const [sha, data] of contents?.map ?? []) files[sha] = data.toString("base64");
    const request: DriverRequest = {
      op,
      type: kind.type,
      resource: r,
      changes,
      noop: ctx.noop,
      stateDir: ctx.stateDir,
      run: ctx.run,
      files,
    };
    const out = await box.exec(["node", "--import", TSX, `${BOX_TEND}/test/helpers/box-kind-driver.ts`], {
      input: JSON.stringify(request),
    });
    let reply: DriverReply;
    try {
      reply = JSON.parse(out.stdout) as DriverReply;
    } catch {
      throw new Error(`the box's kind driver failed (exit ${out.code}): ${out.stderr}${out.stdout}`);
    }
    Object.assign(ctx.run, reply.run);
    if (reply.error) {
      const { code, message } = reply.error;
      throw code?.startsWith("TEND_E_") ? new TendError(code as never, message) : new Error(message);
    }
    return reply.result;
  };
  return {
    type: kind.type,
    spec: kind.spec,
    check: async (r, ctx) => (await call("check", r, [], ctx))!,
    apply: async (r, changes, ctx) => {
      await call("apply", r, changes, ctx);
      return undefined;
    },
  };
}
